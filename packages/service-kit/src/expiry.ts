/** Longest a timer may wait (setTimeout's limit); tokens expiring later are checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** Runs `onExpired` when a token's `exp` (seconds since the epoch) has passed; clear `timer` when the connection ends first. */
export function scheduleExpiry (expSeconds: number, onExpired: () => void): { timer: NodeJS.Timeout | undefined } {
  const holder: { timer: NodeJS.Timeout | undefined } = { timer: undefined }
  const arm = () => {
    const wait = expSeconds * 1000 - Date.now()
    if (wait <= 0) { onExpired(); return }
    holder.timer = setTimeout(arm, Math.min(wait, MAX_TIMER_MS))
    holder.timer.unref()
  }
  arm()
  return holder
}
