import * as hdr from 'hdr-histogram-js'

/** Latencies in microseconds, 1 µs to 10 minutes, 3 significant digits. */
export function newHistogram (): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 })
}

/** Adds encoded histograms (from workers) into one. */
export function merge (encoded: string[]): hdr.Histogram {
  const total = newHistogram()
  for (const e of encoded) total.add(hdr.decodeFromCompressedBase64(e))
  return total
}

export interface Percentiles {
  count: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

/** Percentiles in milliseconds. */
export function percentiles (h: hdr.Histogram): Percentiles {
  const ms = (us: number) => Math.round(us) / 1000
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue)
  }
}
