/** Server messages for the SDK's unit tests. */
import type { ConnectedMessage, JobSnapshot, LiveEventMessage } from '@training-live/events'

export const TENANT = 'tenant_client_unit'
export const JOB = 'job_client_unit'

export function snapshot (data: Partial<JobSnapshot> = {}): ConnectedMessage {
  return {
    type: 'connected',
    tenant_id: TENANT,
    job_id: JOB,
    timestamp: '2025-10-08T12:35:00.000Z',
    data: { status: 'running', progress: 20, products_completed: 0, total_products: 4, current_step: 'Data Analysis', last_id: '100-0', ...data }
  }
}

/** A product_completed message: `n` of 4 products done. */
export function product (id: string, n: number): LiveEventMessage {
  return {
    id,
    type: 'product_completed',
    tenant_id: TENANT,
    job_id: JOB,
    timestamp: '2025-10-08T12:35:01.000Z',
    progress: 20 + Math.floor(n / 4 * 60),
    // The event's own fields travel beside the computed ones.
    data: { ...{ product_name: `p${n}` }, total_products: 4, status: 'running', products_completed: n, current_step: `Trained p${n}` }
  }
}

export function completed (id: string): LiveEventMessage {
  return {
    id,
    type: 'completed',
    tenant_id: TENANT,
    job_id: JOB,
    timestamp: '2025-10-08T12:35:02.000Z',
    progress: 100,
    data: { status: 'completed', products_completed: 4, total_products: 4, current_step: 'Trained p4' }
  }
}

export function failed (id: string, error: string): LiveEventMessage {
  return {
    id,
    type: 'failed',
    tenant_id: TENANT,
    job_id: JOB,
    timestamp: '2025-10-08T12:35:02.000Z',
    progress: 35,
    data: { ...{ error }, status: 'failed', products_completed: 1, total_products: 4, current_step: 'Trained p1' }
  }
}
