// The Kubernetes client adapter (STYLE.md 2): loads the kubeconfig once, builds the typed APIs,
// and turns every client-node failure into a catalogued DwoError (STYLE.md 5-6) so the work
// queue can tell transient from terminal. Called by the entrypoints and by the rest of src/k8s.
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  KubernetesObjectApi,
  Observable,
  setHeaderOptions,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import { DwoError, type ErrorCode } from '../runtime/errors.js';

/** Where the credentials come from; decided by config/, never read from the environment here. */
export type KubeConfigSource =
  | { readonly kubeconfigPath: string; readonly context?: string }
  | { readonly inCluster: true };

/** Loads a kubeconfig file (optionally switching context) or the pod's service account. */
export function loadKubeConfig(source: KubeConfigSource): KubeConfig {
  const kc = new KubeConfig();
  try {
    if ('inCluster' in source) {
      kc.loadFromCluster();
    } else {
      kc.loadFromFile(source.kubeconfigPath);
      if (source.context !== undefined) kc.setCurrentContext(source.context);
    }
  } catch (err) {
    throw new DwoError('DWO_E_KUBECONFIG', `cannot load kubeconfig: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    const where = 'inCluster' in source ? 'the in-cluster service account (KUBERNETES_SERVICE_HOST unset?)' : source.kubeconfigPath;
    throw new DwoError('DWO_E_KUBECONFIG', `no current cluster with a server address in ${where}`);
  }
  return kc;
}

/** The typed APIs this project uses, built from one KubeConfig. */
export interface KubeClients {
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly coordination: CoordinationV1Api;
  readonly events: EventsV1Api;
  readonly custom: CustomObjectsApi;
  /** Any kind by apiVersion/kind (discovery-backed), used for generic server-side apply. */
  readonly objects: KubernetesObjectApi;
}

/** Builds every API client from a kubeconfig source or an already loaded KubeConfig. */
export function createKubeClients(source: KubeConfigSource | KubeConfig): KubeClients {
  const kc = source instanceof KubeConfig ? source : loadKubeConfig(source);
  return {
    kubeConfig: kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
    events: kc.makeApiClient(EventsV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    objects: KubernetesObjectApi.makeApiClient(kc),
  };
}

/** Per-request options: a deadline and/or a Content-Type override (needed for server-side apply). */
export interface CallOptions {
  readonly timeoutMs?: number;
  readonly contentType?: string;
}

function timeoutMiddleware(ms: number): ObservableMiddleware {
  return {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(AbortSignal.timeout(ms));
      return new Observable(Promise.resolve(ctx));
    },
    post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
  };
}

/**
 * Builds the `options` argument of a generated API call. The generated code picks json-patch for
 * every patch call; server-side apply needs Content-Type application/apply-patch+yaml set here.
 */
export function callOptions(opts: CallOptions): ConfigurationOptions {
  let out: ConfigurationOptions = { middleware: [], middlewareMergeStrategy: 'append' };
  if (opts.timeoutMs !== undefined) out = { ...out, middleware: [...(out.middleware ?? []), timeoutMiddleware(opts.timeoutMs)] };
  if (opts.contentType !== undefined) out = setHeaderOptions('Content-Type', opts.contentType, out);
  return out;
}

/** The parts of a metav1.Status body we use. */
interface StatusBody {
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string; field?: string }[] };
}

function parseStatus(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      const parsed: unknown = JSON.parse(body);
      return typeof parsed === 'object' && parsed !== null ? (parsed as StatusBody) : { message: body };
    } catch {
      return body.trim() === '' ? {} : { message: body.slice(0, 500) };
    }
  }
  return typeof body === 'object' && body !== null ? (body as StatusBody) : {};
}

const NETWORK_CODES = /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/;

/** True for errors below HTTP: refused or reset connections, DNS, TLS, aborted and timed-out requests. */
function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'AbortError' || err.name === 'TimeoutError') return true;
  if (err.name === 'TypeError' && (err.message === 'fetch failed' || err.message === 'terminated')) return true;
  const code = (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && NETWORK_CODES.test(code);
}

/** The HTTP status of a failed call, when there was one. */
export function httpStatusOf(err: unknown): number | undefined {
  const cause = err instanceof DwoError ? err.cause : err;
  if (cause instanceof ApiException) return cause.code;
  const code = (cause as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

function codeForStatus(status: number, body: StatusBody): ErrorCode {
  if (status === 404) return 'DWO_E_API_NOT_FOUND';
  if (status === 409) {
    const fieldConflict = body.details?.causes?.some((c) => c.reason === 'FieldManagerConflict') ?? false;
    return fieldConflict ? 'DWO_E_API_FIELD_CONFLICT' : 'DWO_E_API_CONFLICT';
  }
  if (status === 401) return 'DWO_E_API_UNAUTHORIZED';
  if (status === 403) return 'DWO_E_API_FORBIDDEN';
  if (status === 408 || status === 410 || status === 429 || status >= 500) return 'DWO_E_API_UNAVAILABLE';
  return 'DWO_E_API_INVALID';
}

/**
 * Maps a client-node failure to a DwoError: 404 -> DWO_E_API_NOT_FOUND (callers treat it as done),
 * 409 -> DWO_E_API_CONFLICT (transient) or DWO_E_API_FIELD_CONFLICT for an apply conflict,
 * 408/410/429/5xx and network errors -> DWO_E_API_UNAVAILABLE (transient), 401/403 terminal,
 * other 4xx -> DWO_E_API_INVALID with the server's message. DwoErrors pass through; anything
 * else (a bug) stays as it is so it is not mistaken for an API answer.
 */
export function toKubeError(err: unknown, action: string): unknown {
  if (err instanceof DwoError) return err;
  const status = err instanceof ApiException ? err.code : (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number') {
    const body = parseStatus(err instanceof ApiException ? err.body : undefined);
    const text = body.message ?? (err instanceof Error && !(err instanceof ApiException) ? err.message : `HTTP ${status}`);
    return new DwoError(codeForStatus(status, body), `${action}: ${text} (HTTP ${status})`, { cause: err });
  }
  if (isNetworkError(err)) {
    const e = err as Error;
    const detail = (e.cause as { message?: unknown } | undefined)?.message;
    return new DwoError('DWO_E_API_UNAVAILABLE', `${action}: ${e.message}${typeof detail === 'string' ? ` (${detail})` : ''}`, { cause: err });
  }
  return err;
}

/** Runs one API call and rethrows its failure mapped by toKubeError. */
export async function kubeCall<T>(action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toKubeError(err, action);
  }
}

/** True when the error (raw or mapped) means the object does not exist. */
export function isNotFound(err: unknown): boolean {
  if (err instanceof DwoError) return err.code === 'DWO_E_API_NOT_FOUND';
  return httpStatusOf(err) === 404;
}

/** Resolves to undefined instead of failing when the object does not exist. */
export async function ignoreNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
