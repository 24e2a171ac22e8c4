/**
 * Time windows for conditional access: days of the week and an hour range in an IANA time zone.
 * Local time is read with Intl (the zone database Node ships), so daylight saving is the zone's.
 */

export const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const
export type DayName = (typeof DAY_NAMES)[number]

/** Local wall-clock time in a zone. */
export interface LocalTime {
  readonly day: DayName
  /** Minutes since local midnight. */
  readonly minute: number
  readonly second: number
  /** YYYY-MM-DD, local. */
  readonly date: string
  readonly hour: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()

/** True when `zone` is an IANA zone name Node knows. */
export function isTimeZone(zone: string): boolean {
  try {
    formatter(zone)
    return true
  } catch {
    return false
  }
}

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    formatters.set(zone, f)
  }
  return f
}

/** Wall-clock time at `epochMs` in `zone`. */
export function localTime(epochMs: number, zone: string): LocalTime {
  const parts: Record<string, string> = {}
  for (const p of formatter(zone).formatToParts(epochMs)) parts[p.type] = p.value
  const hour = Number(parts.hour)
  return {
    day: parts.weekday!.toLowerCase().slice(0, 3) as DayName,
    hour,
    minute: hour * 60 + Number(parts.minute),
    second: Number(parts.second),
    date: `${parts.year}-${parts.month}-${parts.day}`,
  }
}

/** A compiled window (see `timeWindow`): what it says, and whether an instant lies in it. */
export interface TimeWindow {
  /** For refusals and explain: `mon-fri 09:00-18:00 Europe/Berlin`. */
  readonly text: string
  contains(epochMs: number): boolean
}

/** `HH:MM` to minutes since midnight; `24:00` is the end of the day. */
export function parseClock(text: string): number | null {
  const m = /^([01][0-9]|2[0-4]):([0-5][0-9])$/.exec(text)
  if (m === null) return null
  const minutes = Number(m[1]) * 60 + Number(m[2])
  return minutes > 24 * 60 ? null : minutes
}

/**
 * Build a window. `days` takes names (`mon`) and ranges (`mon-fri`); an overnight window
 * (`22:00`-`06:00`) belongs to the day it starts on.
 */
export function timeWindow(days: readonly string[], from: number, to: number, zone: string): TimeWindow | string {
  const set = new Set<DayName>()
  for (const d of days) {
    const [a, b] = d.toLowerCase().split('-') as [string, string | undefined]
    const start = DAY_NAMES.indexOf(a as DayName)
    const end = b === undefined ? start : DAY_NAMES.indexOf(b as DayName)
    if (start < 0 || end < 0) return `"${d}" is not a day (mon, tue, ... sun, or a range like mon-fri)`
    for (let i = start; ; i = (i + 1) % 7) {
      set.add(DAY_NAMES[i]!)
      if (i === end) break
    }
  }
  if (!isTimeZone(zone)) return `"${zone}" is not an IANA time zone (e.g. Europe/Berlin, UTC)`
  const clock = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`
  const overnight = to <= from
  const text = `${days.join(',')} ${clock(from)}-${clock(to)} ${zone}`
  return Object.freeze({
    text,
    contains(epochMs: number): boolean {
      const now = localTime(epochMs, zone)
      if (!overnight) return set.has(now.day) && now.minute >= from && now.minute < to
      if (now.minute >= from) return set.has(now.day)
      // Early morning belongs to yesterday's window.
      const yesterday = DAY_NAMES[(DAY_NAMES.indexOf(now.day) + 6) % 7]!
      return now.minute < to && set.has(yesterday)
    },
  })
}
