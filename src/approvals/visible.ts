/**
 * Agent-controlled text made safe to show an approver as it is. Written as `\u{...}`, so what a
 * person reads is what is sent:
 * - control characters (a terminal escape could redraw `sidekey approvals list`, a carriage
 *   return overwrite a line), and line and paragraph separators;
 * - format characters, bidirectional overrides and isolates among them (which reorder what is
 *   displayed, "Trojan Source", CVE-2021-42574), and tag characters (U+E0000 block), which
 *   display as nothing while a model reads them as text ("ASCII smuggling");
 * - every default-ignorable code point (variation selectors, Hangul fillers, the combining
 *   grapheme joiner, ...) and the braille blank, which display as nothing or as a space; private
 *   use and unassigned code points, which a font may show as nothing (found by a red-team run:
 *   an instruction written in tag characters reached an approver as blank space, and the model
 *   behind the upstream read it).
 * Newlines and tabs are kept in multi-line text (a body) and escaped elsewhere.
 *
 * Self-contained on purpose: the web console embeds this function's source, so the page and the
 * CLI show text the same way.
 */
export function visible(text: string, multiline = false): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Default_Ignorable_Code_Point}\u2800]/gu, (c) =>
    multiline && (c === '\n' || c === '\t') ? c : `\\u{${c.codePointAt(0)!.toString(16).padStart(4, '0')}}`,
  )
}
