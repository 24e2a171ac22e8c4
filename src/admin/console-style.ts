/**
 * The console's stylesheet. Agent-controlled text is drawn in the order it is sent, never
 * reordered by the bidirectional algorithm. Rows are tinted by outcome (`observe/outcome.ts`), never by the policy
 * decision. The page never scrolls sideways: long paths and bodies wrap anywhere, and each
 * pending approval is a card of its own, so its body is read at the page's full width, on an
 * 800 px screen too.
 */
export const CONSOLE_STYLE = `
  * { box-sizing: border-box; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em; color: #222; }
  h1 { font-size: 1.3em; margin: 0 0 .5em; } h2 { font-size: 1.05em; margin: 1.4em 0 .4em; }
  table { border-collapse: collapse; width: 100%; table-layout: fixed; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #ddd; vertical-align: top; overflow-wrap: anywhere; }
  th { background: #f4f4f4; font-weight: 600; } code, pre { font: 12px/1.3 ui-monospace, monospace; }
  pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; background: #fafafa; }
  /* Agent-controlled text is drawn in the order it is sent: right-to-left letters around digits
     would otherwise be reordered ("200 ב 100 א" for "א 100 ב 200"), and the approver read amounts swapped. */
  code, pre, td, #deny-what { direction: ltr; unicode-bidi: bidi-override; }
  button { margin: 1px; cursor: pointer; } .deny { color: #a00; } .ok { color: #070; } .muted { color: #666; }
  #status { float: right; font-size: .9em; } .empty { color: #777; font-style: italic; }
  #who { font-size: .8em; font-weight: normal; margin-left: .6em; }
  label { display: inline-block; margin: 0 .8em .3em 0; }
  input, select, textarea { font: inherit; max-width: 100%; }
  #login input { width: 26em; }

  #pending-table thead { display: none; }
  #pending-table, #pending-table tbody, #pending-table tr, #pending-table td { display: block; width: 100%; }
  #pending-table tr { border: 1px solid #ccc; border-radius: 4px; margin-bottom: .8em; }
  #pending-table td { border: 0; padding: 2px 8px; }
  #pending-table td::before { content: attr(data-label); display: block; font-size: .8em; color: #666; }

  #decisions-table col.c-time { width: 12em; } #decisions-table col.c-who { width: 8em; } #decisions-table col.c-route { width: 8em; } #decisions-table col.c-outcome { width: 13em; } #decisions-table col.c-status { width: 5em; }
  tr.outcome-served { background: #edf7ee; } tr.outcome-upstream-error { background: #fff6df; }
  tr.outcome-pending { background: #e7f0fb; } tr.outcome-refused { background: #fdeaea; } tr.outcome-failed { background: #f6e3f0; } tr.outcome-agent-gone { background: #f1f1f1; }
  .chip { display: inline-block; padding: 0 .4em; border-radius: 3px; font-size: .85em; color: #fff; }
  .chip.outcome-served { background: #2e7d32; } .chip.outcome-upstream-error { background: #a06800; } .chip.outcome-pending { background: #1f5fa8; }
  .chip.outcome-refused { background: #c62828; } .chip.outcome-failed { background: #8e1b62; } .chip.outcome-agent-gone { background: #616161; }
  tr.tunnel-row td { padding-left: 2em; font-size: .9em; }
  tr.tunnel-row summary { cursor: pointer; color: #444; }

  .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: .6em; }
  .chart { border: 1px solid #ddd; border-radius: 4px; padding: .4em .6em; min-width: 0; }
  .chart h3 { font-size: .95em; margin: 0; overflow-wrap: anywhere; }
  .chart svg { display: block; width: 100%; height: 48px; background: #fafafa; }
  .chart .bar { fill: #9bb7d4; } .chart .refused { fill: #c62828; } .chart .p95 { fill: none; stroke: #8e1b62; stroke-width: 1.2; }
  .chart .anomaly { color: #c62828; font-size: .85em; }
  .legend span { margin-right: .8em; font-size: .8em; }

  dialog { max-width: min(32em, 92vw); } dialog textarea { width: 100%; }
`
