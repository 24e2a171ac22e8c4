/**
 * Time windows for conditional access: days of the week and an hour range in an IANA time zone.
 * Local time is read with Intl (the zone database Node ships), so daylight saving is the zone's.
 */
export const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const formatters = new Map();
/** True when `zone` is an IANA zone name Node knows. */
export function isTimeZone(zone) {
    try {
        formatter(zone);
        return true;
    }
    catch {
        return false;
    }
}
function formatter(zone) {
    let f = formatters.get(zone);
    if (f === undefined) {
        f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
        formatters.set(zone, f);
    }
    return f;
}
/** Wall-clock time at `epochMs` in `zone`. */
export function localTime(epochMs, zone) {
    const parts = {};
    for (const p of formatter(zone).formatToParts(epochMs))
        parts[p.type] = p.value;
    const hour = Number(parts.hour);
    return {
        day: parts.weekday.toLowerCase().slice(0, 3),
        hour,
        minute: hour * 60 + Number(parts.minute),
        second: Number(parts.second),
        date: `${parts.year}-${parts.month}-${parts.day}`,
    };
}
/** `HH:MM` to minutes since midnight; `24:00` is the end of the day. */
export function parseClock(text) {
    const m = /^([01][0-9]|2[0-4]):([0-5][0-9])$/.exec(text);
    if (m === null)
        return null;
    const minutes = Number(m[1]) * 60 + Number(m[2]);
    return minutes > 24 * 60 ? null : minutes;
}
/**
 * Build a window. `days` takes names (`mon`) and ranges (`mon-fri`); an overnight window
 * (`22:00`-`06:00`) belongs to the day it starts on.
 */
export function timeWindow(days, from, to, zone) {
    const set = new Set();
    for (const d of days) {
        const [a, b] = d.toLowerCase().split('-');
        const start = DAY_NAMES.indexOf(a);
        const end = b === undefined ? start : DAY_NAMES.indexOf(b);
        if (start < 0 || end < 0)
            return `"${d}" is not a day (mon, tue, ... sun, or a range like mon-fri)`;
        for (let i = start;; i = (i + 1) % 7) {
            set.add(DAY_NAMES[i]);
            if (i === end)
                break;
        }
    }
    if (!isTimeZone(zone))
        return `"${zone}" is not an IANA time zone (e.g. Europe/Berlin, UTC)`;
    const clock = (m) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    const overnight = to <= from;
    const text = `${days.join(',')} ${clock(from)}-${clock(to)} ${zone}`;
    return Object.freeze({
        text,
        contains(epochMs) {
            const now = localTime(epochMs, zone);
            if (!overnight)
                return set.has(now.day) && now.minute >= from && now.minute < to;
            if (now.minute >= from)
                return set.has(now.day);
            // Early morning belongs to yesterday's window.
            const yesterday = DAY_NAMES[(DAY_NAMES.indexOf(now.day) + 6) % 7];
            return now.minute < to && set.has(yesterday);
        },
    });
}
//# sourceMappingURL=time-window.js.map