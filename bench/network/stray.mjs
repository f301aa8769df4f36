// Stray errors of a bench process: the upstream yamux race ("Cannot write to
// a stream that is closed") and anything else uncaught. None is fatal (the
// bench's watchdog bounds the run); each process counts its own and the
// parent sums them into `stray_errors`.
export function countStrayErrors() {
  const stray = { yamux_stream_closed: 0, other: 0, other_samples: [] };
  const onStray = (err) => {
    const msg = String(err?.message ?? err);
    if (err?.name === 'StreamStateError' || /Cannot write to a stream that is closed/.test(msg)) stray.yamux_stream_closed++;
    else {
      stray.other++;
      if (stray.other_samples.length < 5) stray.other_samples.push(`${err?.name ?? 'Error'}: ${msg}`.slice(0, 200));
    }
  };
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);
  return stray;
}
