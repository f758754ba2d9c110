/** Word error rate: word-level edit distance over the reference's length (case and punctuation ignored). */
export function wordErrorRate(reference: string, hypothesis: string): number {
  const words = (t: string): string[] => t.toLowerCase().replace(/[^a-z' ]/g, " ").split(/\s+/).filter((w) => w !== "");
  const ref = words(reference);
  const hyp = words(hypothesis);
  let previous = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const row = [i];
    for (let j = 1; j <= hyp.length; j++) row[j] = Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, (previous[j - 1] as number) + (ref[i - 1] === hyp[j - 1] ? 0 : 1));
    previous = row;
  }
  return (previous[hyp.length] as number) / ref.length;
}
