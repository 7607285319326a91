// Types for harness.mjs (imported by the tests).
export declare const healthScript: string;
export declare function toLua(value: unknown): string;
export declare function evaluateHealth(object: unknown, opts?: { lua?: string; script?: string }): { status: string; message: string };
