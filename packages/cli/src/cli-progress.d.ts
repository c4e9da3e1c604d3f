// The part of cli-progress 3's API the CLI uses (the package ships no types).
declare module 'cli-progress' {
  interface Options {
    format?: string;
    hideCursor?: boolean;
    clearOnComplete?: boolean;
    stream?: NodeJS.WritableStream;
  }
  class SingleBar {
    constructor(options: Options, preset?: object);
    start(total: number, start: number, payload?: Record<string, unknown>): void;
    update(value: number, payload?: Record<string, unknown>): void;
    stop(): void;
  }
  const Presets: { shades_classic: object; legacy: object; rect: object; shades_grey: object };
  const cliProgress: { SingleBar: typeof SingleBar; Presets: typeof Presets };
  export default cliProgress;
}
