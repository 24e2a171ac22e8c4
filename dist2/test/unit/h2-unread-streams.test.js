import t from 'tap';
import { UnreadStreams } from '../../src/accept/h2-unread-streams.js';
/** The runs of ids an UnreadStreams reports for the given calls. */
function runs(calls) {
    const seen = [];
    calls(new UnreadStreams((first, count) => seen.push([first, count])));
    return seen;
}
t.same(runs((u) => [1, 3, 5].forEach((id) => u.handedOver(id))), [], 'streams handed over in order: nothing unread');
t.same(runs((u) => [3, 5].forEach((id) => u.handedOver(id))), [[1, 1]], 'the first stream kept back');
t.same(runs((u) => [1, 7, 9, 15].forEach((id) => u.handedOver(id))), [[3, 2], [11, 2]], 'each run of skipped ids is one report');
t.same(runs((u) => [1, 2147483647].forEach((id) => u.handedOver(id))), [[3, 1073741822]], 'a run of a billion ids is still one report');
t.same(runs((u) => {
    u.handedOver(1);
    u.ending(5);
}), [[3, 2]], 'streams nghttp2 read after the last one handed over, at the end');
t.same(runs((u) => {
    u.handedOver(5);
    u.ending(5);
    u.ending(undefined);
}), [[1, 2]], 'nothing more when the last processed was handed over, or the session is gone');
t.same(runs((u) => {
    u.ending(3);
    u.handedOver(5);
}), [[1, 2]], 'what was reported at the end is not reported again');
//# sourceMappingURL=h2-unread-streams.test.js.map