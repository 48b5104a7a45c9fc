import { randomUUID } from 'node:crypto'
import type { TrainingEvent } from '@training-live/events'

/** Builds the events of a job, in the order a worker would publish them. */
export function jobEvents (tenantId: string, jobId: string, products: string[]): TrainingEvent[] {
  let t = Date.now()
  const base = () => ({ event_id: randomUUID(), tenant_id: tenantId, job_id: jobId, timestamp: new Date(t++).toISOString() })
  const total = products.length
  return [
    { ...base(), type: 'training.started', data: { total_products: total } },
    { ...base(), type: 'training.progress', data: { step: 'Data Analysis', progress: 100 } },
    ...products.map((p, i): TrainingEvent => ({
      ...base(), type: 'training.product.completed', data: { product_name: p, total_products: total, products_completed: i + 1, current_step: `Trained ${p}` }
    })),
    { ...base(), type: 'training.completed', data: { successful_trainings: total, failed_trainings: 0, total_duration: 1.5 } }
  ]
}
