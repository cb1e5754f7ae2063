// The one error the wire rules throw: input that breaks a rule of the
// protocol. The registry answers it as INVALID_INPUT; the client raises it as
// a RegistryClientError with that code.
export class WireError extends Error {
  readonly code = "INVALID_INPUT";

  constructor(message: string) {
    super(message);
    this.name = "WireError";
  }
}
