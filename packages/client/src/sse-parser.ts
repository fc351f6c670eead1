/** One dispatched Server-Sent Event. */
export interface ServerSentEvent {
  /** The event's type: its `event:` field, else `message`. */
  type: string;
  /** Its `data:` lines, joined by `\n`. */
  data: string;
  /** The last event ID in force when it was dispatched (an `id:` field sticks until another). */
  lastEventId: string;
}

/**
 * An incremental `text/event-stream` parser, by the WHATWG HTML "event stream interpretation"
 * rules: lines end in CRLF, LF or CR (also when split across chunks); `:` lines are comments
 * (heartbeats); one leading space after `field:` is dropped; `id` with a NUL is ignored; `retry`
 * takes ASCII digits only; an event without data is not dispatched; a partial event at the end
 * of the stream is dropped. A leading BOM is the decoder's job (TextDecoder strips it).
 */
export class ServerSentEventParser {
  /** The reconnection delay the server last asked for (`retry:`), in ms. */
  retryMs: number | undefined;
  lastEventId = '';
  private buffer = '';
  /** A chunk ended in CR: an LF opening the next chunk belongs to that line end. */
  private skipLeadingLf = false;
  private type = '';
  private data: string[] = [];

  /** Feeds decoded text; returns the events it completed. */
  push(text: string): ServerSentEvent[] {
    if (this.skipLeadingLf && text.startsWith('\n')) text = text.slice(1);
    this.skipLeadingLf = false;
    this.buffer += text;
    const events: ServerSentEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const char = this.buffer.charCodeAt(i);
      if (char !== 10 && char !== 13) continue;
      const line = this.buffer.slice(start, i);
      if (char === 13) {
        if (i + 1 === this.buffer.length) this.skipLeadingLf = true;
        else if (this.buffer.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
      const event = this.line(line);
      if (event) events.push(event);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string): ServerSentEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.type = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
      // unknown fields are ignored, as the spec says
    }
    return undefined;
  }

  private dispatch(): ServerSentEvent | undefined {
    const type = this.type || 'message';
    const data = this.data;
    this.type = '';
    this.data = [];
    if (data.length === 0) return undefined;
    return { type, data: data.join('\n'), lastEventId: this.lastEventId };
  }
}
