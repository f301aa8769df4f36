/**
 * Reminders through the Notifications API. A reminder is stored (settings,
 * so it survives reloads and is part of the export) and shown by the service
 * worker's `showNotification` (which also works on Android, where
 * `new Notification()` is not allowed). Browsers cannot wake a closed web app
 * at an exact time, so a reminder fires while H3LIX is open, or at its next
 * start if its time passed while it was closed — and says so.
 */
export interface Reminder {
  id: string;
  text: string;
  at: number;
}

export class NotificationsUnavailableError extends Error {
  override name = 'NotificationsUnavailableError';
}

export async function ensureNotificationPermission(): Promise<void> {
  if (typeof Notification === 'undefined') {
    throw new NotificationsUnavailableError('This browser cannot show notifications.');
  }
  const permission = Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
  if (permission !== 'granted') {
    throw new NotificationsUnavailableError('Notifications are blocked for H3LIX. Allow them in the browser’s site settings.');
  }
}

export async function showReminder(reminder: Reminder, late: boolean): Promise<void> {
  const body = late ? `${reminder.text}\n(due ${new Date(reminder.at).toLocaleString()}, while H3LIX was closed)` : reminder.text;
  const registration = 'serviceWorker' in navigator ? await navigator.serviceWorker.getRegistration() : undefined;
  if (registration) {
    await registration.showNotification('H3LIX reminder', { body, tag: `reminder-${reminder.id}` });
  } else {
    new Notification('H3LIX reminder', { body, tag: `reminder-${reminder.id}` });
  }
}

/** Keeps one timer per pending reminder while the page is open. */
export class ReminderScheduler {
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #fire: (r: Reminder, late: boolean) => Promise<void>;
  #now: () => number;

  constructor(fire: (r: Reminder, late: boolean) => Promise<void>, now: () => number) {
    this.#fire = fire;
    this.#now = now;
  }

  /** Schedules every reminder not yet scheduled; those already due fire now, marked late. */
  sync(reminders: readonly Reminder[]): void {
    for (const r of reminders) {
      if (this.#timers.has(r.id)) continue;
      const delay = r.at - this.#now();
      // setTimeout cannot wait longer than 2^31-1 ms (~24.8 days): re-check daily.
      const wait = Math.min(Math.max(delay, 0), 86_400_000);
      this.#timers.set(
        r.id,
        setTimeout(() => {
          this.#timers.delete(r.id);
          if (r.at > this.#now()) return this.sync([r]);
          void this.#fire(r, delay < -5_000);
        }, wait),
      );
    }
  }

  cancelAll(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}
