// The one error shape the pure domain throws: a configuration value that cannot work, with the
// catalogue code DWO_E_CONFIG and a fix. The domain cannot import src/runtime (layer rules), so
// runtime's toDwoError() picks up `code` and `fix` from these when the error crosses the boundary.

/** A configuration value the domain cannot work with; subclasses name the kind and the fix. */
export class DomainConfigError extends Error {
  /** The catalogue code (src/runtime/errors.ts): a configuration value is not valid. */
  readonly code = 'DWO_E_CONFIG';

  constructor(
    name: string,
    message: string,
    /** What the user should do, shown with the message. */
    readonly fix: string,
  ) {
    super(message);
    this.name = name;
  }
}
