/**
 * MongoDB positions. The checkpoint is the change event's resume token (stored once the bus has
 * the event). An envelope's position is its cluster time (seconds, increment) and its index among
 * events of that cluster time, zero-padded, so positions sort as strings in commit order.
 */

export function changePosition(t: number, i: number, index: number): string {
  return `${String(t).padStart(10, "0")}:${String(i).padStart(10, "0")}:${
    String(index).padStart(6, "0")
  }`;
}

/** A resume token (`{_data: "…"}`) as the stored text, and back. */
export function encodeToken(token: unknown): string {
  return JSON.stringify(token);
}

export function decodeToken(text: string): Record<string, unknown> {
  const t = JSON.parse(text);
  if (typeof t !== "object" || t === null || Array.isArray(t)) {
    throw new Error(`not a resume token: ${text}`);
  }
  return t;
}
