// A Server-Sent Events reader over fetch. The browser's EventSource cannot
// be used for the live stream: Steward names each message after its event
// type, and EventSource only delivers the types one listens for by name.
// Fetch also shows the response's status, so a 401 leads back to login.

export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

/** Splits a byte stream's text into SSE messages, as the standard reads
 * them: fields up to a blank line, comments (`:`) ignored. */
export class SseParser {
  private buffer = "";
  private id: string | null = null;
  private event = "";
  private data: string[] = [];

  /** Feeds `chunk`; returns the messages it completed. */
  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const messages: SseMessage[] = [];
    for (;;) {
      const end = this.buffer.search(/\r\n|\r|\n/);
      if (end < 0) break;
      const newline = this.buffer.startsWith("\r\n", end) ? 2 : 1;
      // A lone \r at the end of the buffer may be the first half of \r\n.
      if (this.buffer[end] === "\r" && end === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + newline);
      const message = this.line(line);
      if (message) messages.push(message);
    }
    return messages;
  }

  private line(line: string): SseMessage | null {
    if (line === "") {
      if (this.data.length === 0) {
        this.event = "";
        return null;
      }
      const message = { id: this.id, event: this.event || "message", data: this.data.join("\n") };
      this.event = "";
      this.data = [];
      return message;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "id":
        this.id = value;
        break;
      case "event":
        this.event = value;
        break;
      case "data":
        this.data.push(value);
        break;
      default:
        break;
    }
    return null;
  }
}

/** Reads `response`'s body as SSE until it ends or `signal` aborts. */
export async function readSse(
  response: Response,
  onMessage: (message: SseMessage) => void,
  signal: AbortSignal,
): Promise<void> {
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const message of parser.push(value)) onMessage(message);
    }
  } finally {
    signal.removeEventListener("abort", cancel);
  }
}
