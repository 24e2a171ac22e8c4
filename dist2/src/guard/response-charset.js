import { SidekeyError } from '../errors.js';
/**
 * Charsets in which a scrubbed response may come back. The secret forms sidekey searches for
 * (guard/secret-forms.ts) are ASCII bytes, and UTF-16 and UTF-32 of them; a client that decodes
 * by the declared charset (Python's `requests`, for one) would read an echoed secret in any other
 * encoding that sidekey never matched: EBCDIC (`ibm037`, `cp500`, `cp1140`), UTF-7 (`+` and `=`
 * written otherwise). These keep ASCII as ASCII bytes, or are the wide forms searched for.
 */
const SCRUBBABLE_CHARSETS = new Set([
    'utf-8', 'utf8', 'us-ascii', 'ascii',
    'utf-16', 'utf-16le', 'utf-16be', 'utf-32', 'utf-32le', 'utf-32be',
    'latin1', 'l1', 'iso-8859-1', 'iso-8859-2', 'iso-8859-3', 'iso-8859-4', 'iso-8859-5', 'iso-8859-6', 'iso-8859-7', 'iso-8859-8', 'iso-8859-9', 'iso-8859-10', 'iso-8859-13', 'iso-8859-14', 'iso-8859-15', 'iso-8859-16',
    'windows-1250', 'windows-1251', 'windows-1252', 'windows-1253', 'windows-1254', 'windows-1255', 'windows-1256', 'windows-1257', 'windows-1258', 'cp1252',
    'koi8-r', 'koi8-u', 'gbk', 'gb2312', 'gb18030', 'big5', 'euc-jp', 'euc-kr', 'shift_jis',
]);
/**
 * Refuse a response to a scrubbed request whose `Content-Type` declares a charset outside
 * SCRUBBABLE_CHARSETS (one sent twice, with either outside, too). The request went up without
 * `Accept-Charset` (response-guard.ts), so an upstream that answers in one anyway chose to.
 */
export function refuseUnscrubbableCharset(contentType) {
    for (const m of contentType.matchAll(/;\s*charset\s*=\s*("?)([^";,\s]*)\1/gi)) {
        const charset = m[2].toLowerCase();
        if (!SCRUBBABLE_CHARSETS.has(charset)) {
            throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', `the upstream answered in charset "${charset.slice(0, 40)}", in which sidekey cannot find an echoed secret to mask (it reads ASCII-compatible charsets, UTF-16 and UTF-32)`);
        }
    }
}
//# sourceMappingURL=response-charset.js.map