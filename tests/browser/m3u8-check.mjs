// Parses HLS playlists with m3u8-parser (the parser of Video.js's HLS
// engine) and prints one JSON line per file: what it read, and every
// warning it raised (an unknown or malformed tag, a missing attribute).
//
//   node m3u8-check.mjs FILE...
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Parser } = require('m3u8-parser');

const files = process.argv.slice(2);
if (!files.length) {
  process.stderr.write('usage: node m3u8-check.mjs FILE...\n');
  process.exit(2);
}
const out = [];
for (const file of files) {
  const parser = new Parser();
  const warnings = [];
  parser.on('warn', (w) => warnings.push(w.message));
  parser.push(readFileSync(file, 'utf8'));
  parser.end();
  const m = parser.manifest;
  out.push({
    file,
    warnings,
    playlists: (m.playlists || []).map((p) => ({ uri: p.uri, attributes: p.attributes })),
    media_sequence: m.mediaSequence ?? null,
    target_duration: m.targetDuration ?? null,
    end_list: !!m.endList,
    playlist_type: m.playlistType ?? null,
    segments: (m.segments || []).length,
    first_segment: m.segments && m.segments[0] ? { uri: m.segments[0].uri, duration: m.segments[0].duration, map: m.segments[0].map ? m.segments[0].map.uri : null, date: m.segments[0].dateTimeString ?? null } : null,
  });
}
process.stdout.write(JSON.stringify(out) + '\n');
