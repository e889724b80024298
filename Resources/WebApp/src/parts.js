// Files above the site's part size (limits.partBytes) go in parts: PartBytes each except the
// last, each with its own SHA-256, three at a time, then assembled and checked on the server
// (doc/Api.md, "Large files in parts"). Resumable part by part: only the parts the server lacks
// are sent (its status lists them after a closed page; parts-missing after a lost one).

// Larger bodies are never sent whole (the server refuses them): in parts even when the
// site's part size is larger.
export const WHOLE_BODY_LIMIT = 512 * 1024 * 1024;
const PART_CONCURRENCY = 3;

// The site's part size (0: the site takes every file whole, e.g. an older version).
export function partBytesOf(limits) {
  const value = limits ? Number(limits.partBytes) : 0;
  return Number.isSafeInteger(value) && value > 0 ? value : 0;
}

export function sendsInParts(size, partBytes) {
  return partBytes > 0 && (size > partBytes || size > WHOLE_BODY_LIMIT);
}

export function partCount(size, partBytes) {
  return Math.max(1, Math.ceil(size / partBytes));
}

// [start, end) of part n.
export function partRange(n, size, partBytes) {
  const start = n * partBytes;
  return [start, Math.min(size, start + partBytes)];
}

// The part numbers below "count" that are not in "have", in order.
export function missingParts(count, have) {
  const missing = [];
  for (let n = 0; n < count; n++) {
    if (!have.has(n)) {
      missing.push(n);
    }
  }
  return missing;
}

export function bytesOfParts(have, size, partBytes) {
  let bytes = 0;
  for (const n of have) {
    const [start, end] = partRange(n, size, partBytes);
    bytes += Math.max(0, end - start);
  }
  return bytes;
}

// The progress of a file in parts: its parts on the server and those on the way.
function showProgress(run, item) {
  let bytes = item.partDoneBytes;
  for (const loaded of item.partLoaded.values()) {
    bytes += loaded;
  }
  run.inflight.set(item, Math.min(item.entry.size, bytes));
}

// Sends part n (hashed now unless its hash is known). Resolves {} when it arrived, {stored}
// when the server holds the whole file already, {answer} for a final refusal, {failed: reason}
// when it cannot be read, {stopped} when the run stopped.
async function putOnePart(run, item, n) {
  const [start, end] = partRange(n, item.entry.size, run.partBytes);
  const slice = item.entry.blob.slice(start, end);
  const sha = item.sha256;
  let partSha = item.partHashes ? item.partHashes[n] : null;
  let rehashed = false;
  for (;;) {
    if (!partSha) {
      try {
        partSha = await run.hasher.hash(slice);
      } catch (e) {
        return { failed: 'unreadable' };
      }
    }
    const body = partSha;
    const result = await run.exchange((hooks) => run.transport.putPart(run.id, run.token, sha, n, body, slice, hooks),
      (loaded) => {
        item.partLoaded.set(n, loaded);
        showProgress(run, item);
      });
    item.partLoaded.delete(n);
    if (!result) {
      return { stopped: true };
    }
    if (result.status === 200 || result.status === 201) {
      if (result.body && result.body.stored === true) {
        return { stored: result };
      }
      item.serverParts.add(n);
      item.partDoneBytes += end - start;
      showProgress(run, item);
      run.emit();
      return {};
    }
    if (result.status === 409 && result.body && result.body.error === 'hash-mismatch' && !rehashed) {
      // changed since it was hashed, or damaged on the way: hashed again, sent once more
      rehashed = true;
      partSha = null;
      continue;
    }
    return { answer: result };
  }
}

// The missing parts "todo", PART_CONCURRENCY at a time; the first answer that stops the file.
async function putParts(run, item, todo) {
  let next = 0;
  let stop = null;
  const lane = async () => {
    while (!stop && !run.signal.aborted && next < todo.length) {
      const outcome = await putOnePart(run, item, todo[next++]);
      if (!stop && (outcome.stored || outcome.answer || outcome.failed)) {
        stop = outcome;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, todo.length) }, lane));
  return stop;
}

// The file "item" of the UploadRun "run" in parts, hashed ({sha256, parts}). Ends with
// run.finish/settle (or run.failFatal through settle), or silently when the run stopped.
export async function sendInParts(run, item, hashed) {
  const size = item.entry.size;
  const partBytes = run.partBytes;
  const count = partCount(size, partBytes);
  const begin = ({ sha256, parts }) => {
    // Parts the server holds: from its status (a page opened again) and from an earlier run
    // of this page (retrying), for this content only.
    const known = new Set(run.partial.get(sha256) || []);
    if (item.partsOf === sha256 && item.serverParts) {
      item.serverParts.forEach((n) => known.add(n));
    }
    item.sha256 = sha256;
    item.partHashes = parts || null;
    item.partsOf = sha256;
    item.serverParts = new Set([...known].filter((n) => Number.isInteger(n) && n >= 0 && n < count));
    item.partLoaded = new Map();
    item.partDoneBytes = bytesOfParts(item.serverParts, size, partBytes);
    showProgress(run, item);
    run.emit();
    run.onPartialFile(item);
  };
  begin(hashed);
  let restarted = false;
  const maxAssemblies = Math.ceil(count / 100) + 5;
  for (let round = 1; !run.signal.aborted; round++) {
    const stop = await putParts(run, item, missingParts(count, item.serverParts));
    if (run.signal.aborted) {
      return;
    }
    if (stop && stop.failed) {
      run.finish(item, 'failed', stop.failed);
      return;
    }
    if (stop) {
      // 400 bad-part says nothing about the file: a part was refused as it was sent
      const answer = stop.stored || stop.answer;
      run.settle(item, answer.status === 400 ? { ...answer, status: 500 } : answer);
      return;
    }
    const result = await run.exchange((hooks) => run.transport.assembleFile(run.id, run.token, item.sha256, count, hooks));
    if (!result) {
      return;
    }
    const code = result.body && result.body.error;
    if (result.status === 409 && code === 'parts-missing' && round < maxAssemblies) {
      // lost on the server's side (or never arrived): those are sent again
      const missing = Array.isArray(result.body.missing) ? result.body.missing : [];
      if (missing.length === 0) {
        item.serverParts.clear();
      }
      missing.forEach((n) => item.serverParts.delete(n));
      item.partDoneBytes = bytesOfParts(item.serverParts, size, partBytes);
      showProgress(run, item);
      run.emit();
      continue;
    }
    const badParts = result.status === 400 && code === 'bad-part';
    if ((badParts || (result.status === 409 && code === 'hash-mismatch')) && !restarted) {
      // The whole file is not what was hashed (changed on the sender's computer, or a part
      // damaged: the server dropped its parts), or its parts do not fit together (the site's
      // part size changed since they were sent): every part sent again, once; hashed again
      // unless only the sizes were wrong.
      restarted = true;
      run.partial.delete(item.sha256);
      item.serverParts = null;
      item.partsOf = null;
      let again = { sha256: item.sha256, parts: item.partHashes };
      try {
        again = badParts ? again : await run.hasher.hashParts(item.entry.blob, partBytes);
      } catch (e) {
        run.finish(item, 'failed', 'unreadable');
        return;
      }
      begin(again);
      continue;
    }
    // bad-part again says nothing about the file either
    run.settle(item, badParts ? { ...result, status: 500 } : result);
    return;
  }
}
