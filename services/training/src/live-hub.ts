/**
 * Fan-out inside one process: one Redis subscription per job that has local
 * sockets (all on the process's single subscriber connection), and each
 * message delivered as the same string to every local socket of that job.
 */
import { compareStreamIds } from '@training-live/events'

/** The subscriber side of Redis pub/sub, as the hub needs it. */
export interface ChannelSubscriber {
  subscribe (channel: string): Promise<unknown>
  unsubscribe (channel: string): Promise<unknown>
}

/** A message's JSON text: as Redis delivered it (bytes, shared by every socket) or as a string. */
export type LiveData = Buffer | string

/** A local receiver of a job's messages (a live socket). */
export interface LiveSink {
  /** `raw` is the message text, `id` its stream id, `terminal` true for completed/failed. */
  push (raw: LiveData, id: string, terminal: boolean): void
}

interface Topic {
  sinks: Set<LiveSink>
  subscribed: Promise<unknown>
}

/** Reads what the hub needs from a published message without a full parse (or, for bytes, a full decode). */
export function peekMessage (raw: LiveData): { id: string, terminal: boolean } | null {
  // Messages are written by this service as `{"id":"<id>","type":"<type>",…`: all within the first 80 bytes.
  const head = typeof raw === 'string' ? raw : raw.toString('latin1', 0, 80)
  const match = /^\{"id":"(\d+-\d+)","type":"([a-z_]+)"/.exec(head)
  if (match === null) return null
  const type = match[2]
  return { id: match[1] as string, terminal: type === 'completed' || type === 'failed' }
}

const TIMESTAMP_FIELD = '"timestamp":"'

/** The event's own timestamp in a live message, in ms since the epoch, or NaN. Ids hold no quotes, so the first match is it. */
export function messageTimestamp (raw: LiveData): number {
  const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw
  const at = bytes.indexOf(TIMESTAMP_FIELD)
  if (at < 0) return Number.NaN
  const from = at + TIMESTAMP_FIELD.length
  const to = bytes.indexOf('"', from)
  return to < 0 ? Number.NaN : Date.parse(bytes.toString('latin1', from, to))
}

export class LiveHub {
  readonly #subscriber: ChannelSubscriber
  readonly #topics = new Map<string, Topic>()

  constructor (subscriber: ChannelSubscriber) {
    this.#subscriber = subscriber
  }

  /** Adds a sink; resolves once the subscription is confirmed, so nothing published after is missed. */
  async join (channel: string, sink: LiveSink): Promise<void> {
    let topic = this.#topics.get(channel)
    if (topic === undefined) {
      topic = { sinks: new Set(), subscribed: this.#subscriber.subscribe(channel) }
      this.#topics.set(channel, topic)
    }
    topic.sinks.add(sink)
    await topic.subscribed
  }

  leave (channel: string, sink: LiveSink): void {
    const topic = this.#topics.get(channel)
    if (topic === undefined || !topic.sinks.delete(sink)) return
    if (topic.sinks.size === 0) {
      this.#topics.delete(channel)
      // Ordered after the SUBSCRIBE on the same connection, so a later join re-subscribes cleanly.
      this.#subscriber.unsubscribe(channel).catch(() => {})
    }
  }

  /** Sends one message to every local socket of the job: the same bytes to each, encoded once. Returns how many. */
  deliver (channel: string, raw: LiveData): number {
    const topic = this.#topics.get(channel)
    if (topic === undefined) return 0
    const peek = peekMessage(raw)
    if (peek === null) return 0
    for (const sink of topic.sinks) sink.push(raw, peek.id, peek.terminal)
    return topic.sinks.size
  }

  get channels (): number {
    return this.#topics.size
  }

  /** Channels subscribed to now. */
  get channelNames (): string[] {
    return [...this.#topics.keys()]
  }
}

/** True when `id` comes after `last` (null means nothing sent yet). */
export function isAfter (id: string, last: string | null): boolean {
  return last === null || compareStreamIds(id, last) > 0
}
