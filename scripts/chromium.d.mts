export declare const CHROMIUM: string;
export interface ChromiumOptions {
  gpu?: 'swiftshader' | 'hardware';
  webgpu?: boolean;
  disableGpu?: boolean;
  extra?: readonly string[];
}
export declare function chromiumArgs(options?: ChromiumOptions): string[];
export declare function requireChromium(what: string): void;
