/** The auth database's TIMESTAMP columns hold SQLite's CURRENT_TIMESTAMP text, in UTC. */

/** SQLite's CURRENT_TIMESTAMP format, UTC: `YYYY-MM-DD HH:MM:SS`. */
export function sqliteTimestamp(at: Date): string {
  return at.toISOString().slice(0, 19).replace('T', ' ');
}

/** `YYYY-MM-DD HH:MM:SS` (UTC) to RFC 3339; empty for NULL. */
export function rfc3339(timestamp: string | null): string {
  if (timestamp === null || timestamp === '') return '';
  return /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(timestamp) ? `${timestamp.replace(' ', 'T')}Z` : timestamp;
}
