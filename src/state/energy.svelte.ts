/**
 * Energy-adaptive scheduling in the app: what the Energy view shows (the
 * signals now with where they came from, the scheduled jobs with the
 * policy's decisions, the run log, the estimated savings, the settings) and
 * the person's settings. Every outcome is reported in `message`; nothing here
 * throws at the view. The stored API key never reaches the view: it sees
 * only whether one is stored.
 */
import type { CarbonSettings } from '../lib/energy/carbon-providers';
import type { SavingsEstimate } from '../lib/energy/energy-estimate';
import { NO_OVERRIDES, type PersonOverrides, type PolicySettings } from '../lib/energy/policy';
import type { EnergyScheduler, RunRecord, ScheduledJob } from '../services/energy-scheduler';
import type { EnergySignalsService, HistorySample, SignalsSnapshot } from '../services/energy-signals';
import { carbonSettingsFromForm, carbonSourceLabel, policyPatchFromForm, type EnergyForm } from '../ui/energy-chart-data';
import { coalesce } from './coalesce';

/** Re-read at most this often while things change. */
const REFRESH_MS = 500;

export interface EnergySnapshot {
  now: number;
  signals: SignalsSnapshot;
  decisions: ScheduledJob[];
  runs: RunRecord[];
  history: HistorySample[];
  savings: SavingsEstimate;
  /** The stored carbon settings without the keys. */
  carbonSettings: Omit<CarbonSettings, 'keys'>;
  /** Whether an Electricity Maps key is stored. */
  keyStored: boolean;
  policySettings: PolicySettings;
  /** Stored settings that could not be read (the defaults are used). */
  settingsErrors: string[];
}

/** What the Energy view needs (EnergyState, or a double in tests). */
export interface EnergyActions {
  readonly snapshot: EnergySnapshot | null;
  readonly message: string;
  readonly busy: boolean;
  refresh(): Promise<void>;
  saveSettings(form: EnergyForm): Promise<void>;
}

export interface EnergyStateDeps {
  signals: EnergySignalsService;
  scheduler: EnergyScheduler;
  /** The runner's pause state (and Run-now ids where known), only to word the decisions. */
  overrides?: () => PersonOverrides;
}

export class EnergyState implements EnergyActions {
  snapshot = $state.raw<EnergySnapshot | null>(null);
  message = $state('');
  busy = $state(false);

  #deps: EnergyStateDeps;
  #refreshSoon = coalesce(() => void this.refresh(), REFRESH_MS);
  #unsubscribe: (() => void)[] = [];

  constructor(deps: EnergyStateDeps) {
    this.#deps = deps;
    this.#unsubscribe.push(deps.signals.onChange(() => this.changed()), deps.scheduler.onChange(() => this.changed()));
  }

  /** Stops listening to the services. */
  dispose(): void {
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    this.#refreshSoon.cancel();
  }

  /** Something changed (a signal, a run, the queue): re-read soon (coalesced). */
  changed(): void {
    this.#refreshSoon.schedule();
  }

  /** Re-reads everything the view shows. */
  async refresh(): Promise<void> {
    try {
      const { signals, scheduler } = this.#deps;
      const decisions = await scheduler.decisions(this.#deps.overrides?.() ?? NO_OVERRIDES);
      const { keys, ...carbonSettings } = signals.carbonSettings;
      const now = signals.snapshot();
      this.snapshot = {
        now: now.now,
        signals: now,
        decisions,
        runs: [...scheduler.runs],
        history: [...signals.history],
        savings: scheduler.savings(),
        carbonSettings,
        keyStored: Boolean(keys['electricity-maps']),
        policySettings: signals.policySettings,
        settingsErrors: [...signals.settingsErrors],
      };
    } catch (err) {
      console.warn('Could not read the energy state', err);
      this.message = `The energy view could not be read: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  /** Asks the carbon providers again now (they are asked every 30 minutes anyway). */
  refreshCarbon(): Promise<void> {
    return this.#busy(async () => {
      await this.#deps.signals.refreshCarbon({ force: true });
      const carbon = this.#deps.signals.snapshot().carbon;
      return `Carbon data updated: ${carbonSourceLabel(carbon.source)}.`;
    });
  }

  saveCarbonSettings(settings: CarbonSettings): Promise<void> {
    return this.#busy(async () => {
      await this.#deps.signals.saveCarbonSettings(settings);
      return `Carbon settings saved. ${this.#carbonNow()}`;
    });
  }

  savePolicySettings(patch: Partial<PolicySettings>): Promise<void> {
    return this.#busy(async () => {
      await this.#deps.signals.savePolicySettings(patch);
      return 'Scheduling settings saved.';
    });
  }

  /** The view's form: both halves validated first, then saved; one message. */
  saveSettings(form: EnergyForm): Promise<void> {
    return this.#busy(async () => {
      const carbon = carbonSettingsFromForm(form, this.#deps.signals.carbonSettings);
      if (!carbon.ok) return carbon.error;
      const policy = policyPatchFromForm(form);
      if (!policy.ok) return policy.error;
      await this.#deps.signals.savePolicySettings(policy.value);
      await this.#deps.signals.saveCarbonSettings(carbon.value);
      return `Energy settings saved. ${this.#carbonNow()}`;
    });
  }

  #carbonNow(): string {
    const carbon = this.#deps.signals.snapshot().carbon;
    if (carbon.source === 'heuristic') {
      return carbon.failures.length
        ? `Carbon data: estimated from the time of day (${carbon.failures.map((f) => `${carbonSourceLabel(f.providerId)}: ${f.reason}`).join('; ')}).`
        : 'Carbon data: estimated from the time of day.';
    }
    return `Carbon data: ${carbonSourceLabel(carbon.source)}.`;
  }

  async #busy(op: () => Promise<string>): Promise<void> {
    this.busy = true;
    try {
      this.message = await op();
    } catch (err) {
      this.message = err instanceof Error ? err.message : String(err);
    } finally {
      this.busy = false;
      await this.refresh();
    }
  }
}
