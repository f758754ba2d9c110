/**
 * English slurs, in phrase notation and ROT13-encoded so that the source does not spell them out (the
 * list is data for the matcher, not text to read). `decodeRot13` restores them when the lists load.
 */

/** Rotates ASCII letters by 13 places; everything else (the phrase notation's `( ) | ?`) is unchanged. */
export function decodeRot13(text: string): string {
  return text.replace(/[a-z]/gi, (c) => {
    const base = c <= "Z" ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base);
  });
}

/** Racial, ethnic, religious, sexual-orientation and gender-identity slurs that are slurs in any context. */
export const STRONG_SLURS = decodeRot13(
  "a(v)tt(n|nu|nf|nm|re|ref|hu|huf)|xvxr(f)?|fcvp(f)?|puvax(f)?|tbbx(f)?|jrgonpx(f)?|ornare(f)?|enturnq(f)?|gbjryurnq(f)?|" +
    "fnaq( )?avtt(n|re)(f)?|wvtnobb(f)?|mvccreurnq(f)?|snttbg(f)?|sntbg(f)?|genaa(l|vrf)|cbepu( )?zbaxrl(f)?|pnzry( )?wbpxrl(f)?|" +
    "xnssve(f)?|furobba(f)?",
);

/** Words that are slurs in most uses but also have innocent senses or reclaimed uses: weak evidence alone. */
export const AMBIGUOUS_SLURS = decodeRot13("pbba(f)?|cnxv(f)?|qlxr(f)?|snt(f)?|furznyr(f)?|tlccrq|artebvq(f)?|zbatbybvq(f)?");
