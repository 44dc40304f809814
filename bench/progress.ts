/** Progress on stderr while a long phase runs: `label: n / total (p %)` every two seconds. */
export function showProgress(label: string, total: number, current: () => number): () => void {
  const started = Date.now();
  const timer = setInterval(() => {
    const n = current();
    const seconds = Math.round((Date.now() - started) / 1000);
    console.error(`  ${label}: ${n} / ${total} (${Math.floor((n / total) * 100)} %, ${seconds} s)`);
  }, 2_000);
  return () => clearInterval(timer);
}
