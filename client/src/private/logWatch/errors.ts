// What the log-watching commands (checkpoint, monitor, audit) can end with,
// besides a RegistryClientError from the network or the registry (exit 1):
//   LogMisbehaviour   the log was caught: a bad signature, a missing quorum,
//                     an inconsistent checkpoint, a duplicate index, a tile or
//                     bundle that does not hash to the checkpoint (exit 3)
//   LogWatchError     a local failure: a damaged or foreign state file (exit 1)
//   LogWatchUsageError a mistake on the command line (exit 64)

/**
 * Why the log is not to be trusted. The first reasons are the library's
 * VERIFICATION_FAILED reasons (same meaning); the others are what only a
 * monitor or an auditor, who download entries and tiles, can find.
 */
export type MisbehaviourReason =
  | "BAD_SIGNATURE"
  | "QUORUM_NOT_MET"
  | "INCONSISTENT_LOG"
  | "BAD_COMMITMENT"
  | "HANDLE_CLAIMED"
  | "DUPLICATE_INDEX"
  | "BAD_BUNDLE"
  | "BAD_TILE"
  | "ROOT_MISMATCH";

export class LogMisbehaviour extends Error {
  override name = "LogMisbehaviour";
  constructor(
    readonly reason: MisbehaviourReason,
    message: string,
  ) {
    super(message);
  }
}

export class LogWatchError extends Error {
  override name = "LogWatchError";
}

export class LogWatchUsageError extends Error {
  override name = "LogWatchUsageError";
}
