/**
 * Call `attempt` until `done` holds for its answer, or `ms` pass, and return the last answer (the
 * test asserts on it, so a timeout fails with what was last seen). CI runs tests two at a time on
 * a loaded 2-core machine: polling for an outcome, instead of sleeping a fixed time and assuming
 * it, keeps timers that fire late out of the result.
 */
export async function pollFor(attempt, done, ms = 10_000, everyMs = 50) {
    const deadline = Date.now() + ms;
    for (;;) {
        const answer = await attempt();
        if (done(answer) || Date.now() > deadline)
            return answer;
        await new Promise((r) => setTimeout(r, everyMs));
    }
}
/**
 * Poll `probe` until it gives a value (anything but undefined, null or false) and return that
 * value; throw, naming `what`, when `ms` pass first. For a wait that is not itself asserted on
 * (a server started, a record appeared), where `pollFor`'s last answer would have nothing to fail.
 */
export async function waitFor(what, probe, ms = 10_000, everyMs = 50) {
    const answer = await pollFor(probe, (a) => a !== undefined && a !== null && a !== false, ms, everyMs);
    if (answer === undefined || answer === null || answer === false)
        throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    return answer;
}
//# sourceMappingURL=poll.js.map