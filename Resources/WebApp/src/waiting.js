// What a run of uploads waits on: pauses, back-off, the network coming back, being stopped
// (an abort signal) and a free request slot.

export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.onAbort(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export function backoffSeconds(attempt) {
  const base = Math.min(60, 2 ** (attempt - 1));
  return base * (0.75 + Math.random() * 0.5);
}

export function waitOnline(signal) {
  if (navigator.onLine !== false) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const done = () => {
      window.removeEventListener('online', done);
      resolve();
    };
    window.addEventListener('online', done);
    signal.onAbort(done);
  });
}

// At most "count" requests at a time, whichever file or part they carry.
export class Slots {
  constructor(count) {
    this.free = count;
    this.waiting = [];
  }

  take() {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release() {
    const next = this.waiting.shift();
    if (next) {
      next();
    } else {
      this.free++;
    }
  }
}

export class Signal {
  constructor() {
    this.aborted = false;
    this.handlers = [];
  }

  onAbort(handler) {
    if (this.aborted) {
      handler();
    } else {
      this.handlers.push(handler);
    }
  }

  abort() {
    if (!this.aborted) {
      this.aborted = true;
      for (const handler of this.handlers.splice(0)) {
        handler();
      }
    }
  }
}
