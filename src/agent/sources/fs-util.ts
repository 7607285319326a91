// Small file-system helpers shared by the kernel sources (probe, hist triggers).
import { access } from 'node:fs/promises';

/** The errno code of a failed fs call (ENOENT, EACCES, ...), or the error text. */
export const codeOf = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? String(err);

/** Whether a path exists and is reachable by this process. */
export async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}
