import { describe, expect, it } from "vitest";
import { readSse, SseParser } from "./sse";

describe("SseParser", () => {
  it("reads messages split anywhere across chunks, skipping comments", () => {
    const parser = new SseParser();
    const text = ": keep-alive\n\nid: 7\nevent: ItemListed\ndata: {\"a\":\ndata: 1}\n\nid: 8\r\nevent: ItemCheckedOff\r\ndata: {}\r\n\r\n";
    const messages = [];
    for (let i = 0; i < text.length; i += 3) {
      messages.push(...parser.push(text.slice(i, i + 3)));
    }
    expect(messages).toEqual([
      { id: "7", event: "ItemListed", data: '{"a":\n1}' },
      { id: "8", event: "ItemCheckedOff", data: "{}" },
    ]);
  });

  it("names a message without an event field `message` and keeps the last id", () => {
    const parser = new SseParser();
    expect(parser.push("id: 3\n\ndata: x\n\n")).toEqual([{ id: "3", event: "message", data: "x" }]);
  });
});

describe("readSse", () => {
  it("delivers each message of a response body", async () => {
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode("id: 1\nevent: A\ndata: {}\n\nid: 2\nev"));
        controller.enqueue(encoder.encode("ent: B\ndata: {}\n\n"));
        controller.close();
      },
    });
    const seen: string[] = [];
    await readSse(new Response(body), (message) => seen.push(`${message.id}:${message.event}`), new AbortController().signal);
    expect(seen).toEqual(["1:A", "2:B"]);
  });
});
