// The rule for storage.key_prefix that comes from Redis Cluster's hash tags;
// the config refuses such a prefix, and src/store/keys.ts will not build keys
// with one.

/**
 * Why a key prefix cannot be used, or null. Redis hashes the text between a
 * key's first "{" and the next "}"; a prefix whose first "{" is unclosed or
 * closed at once ("{}") would hash the legacy and the compact identity key
 * of one user to different slots.
 */
export function keyPrefixProblem(prefix: string): string | null {
  const open = prefix.indexOf("{");
  if (open === -1) return null;
  const close = prefix.indexOf("}", open + 1);
  if (close === -1) return 'must not contain a "{" without a "}" after it';
  if (close === open + 1) return 'must not contain an empty hash tag "{}"';
  return null;
}
