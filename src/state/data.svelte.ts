/**
 * The person's ownership of their data: storage use and quota, persistence,
 * export to one file, import (validated, all or nothing), delete everything.
 */
import { formatBytes } from '../lib/data/format-bytes';

export interface DataOps {
  exportAll(): Promise<string>;
  suggestedFileName(): string;
  importAll(text: string): Promise<{ conversations: number; messages: number; settings: number }>;
  /** Why a file of this size cannot be imported (null when it can), checked before reading it. */
  checkImportSize(bytes: number): string | null;
  deleteEverything(): Promise<void>;
  requestPersistence(): Promise<boolean>;
  readEstimate(): Promise<{ usage: number | null; quota: number | null; persisted: boolean | null }>;
}

export class DataState {
  usage = $state<number | null>(null);
  quota = $state<number | null>(null);
  persisted = $state<boolean | null>(null);
  /** Result of the last operation, for the status line of the data section. */
  message = $state('');
  /** Problems found in the last imported file. */
  importProblems = $state.raw<string[]>([]);
  busy = $state(false);

  usageText = $derived(
    this.usage === null
      ? 'Storage use is not available in this browser.'
      : this.quota
        ? `${formatBytes(this.usage)} used of ${formatBytes(this.quota)} available`
        : `${formatBytes(this.usage)} used`,
  );

  #ops: DataOps;
  #beforeChange: () => Promise<void>;
  #afterChange: () => Promise<void>;

  /**
   * @param beforeChange runs before an import or deletion (stops a reply being written into data about to change)
   * @param afterChange reloads everything shown from storage
   */
  constructor(ops: DataOps, beforeChange: () => Promise<void>, afterChange: () => Promise<void>) {
    this.#ops = ops;
    this.#beforeChange = beforeChange;
    this.#afterChange = afterChange;
  }

  async refresh(): Promise<void> {
    const e = await this.#ops.readEstimate();
    this.usage = e.usage;
    this.quota = e.quota;
    this.persisted = e.persisted;
  }

  async requestPersistence(): Promise<void> {
    this.persisted = await this.#ops.requestPersistence();
  }

  /** The export file, or null (with the reason in `message`) when it could not be made. */
  async exportFile(): Promise<{ name: string; text: string } | null> {
    this.busy = true;
    try {
      const text = await this.#ops.exportAll();
      this.message = 'Export ready: your data was saved to a file.';
      return { name: this.#ops.suggestedFileName(), text };
    } catch (err) {
      this.message = `The export failed: ${err instanceof Error ? err.message : String(err)}`;
      return null;
    } finally {
      this.busy = false;
    }
  }

  async importFile(file: File): Promise<boolean> {
    this.busy = true;
    this.importProblems = [];
    try {
      const tooBig = this.#ops.checkImportSize(file.size);
      if (tooBig) throw new Error(tooBig);
      const text = await file.text();
      await this.#beforeChange();
      const n = await this.#ops.importAll(text);
      this.message = `Imported ${n.conversations} conversations, ${n.messages} messages and ${n.settings} settings from ${file.name}.`;
      // The import is committed: a failure to redraw is not a failed import.
      await this.#afterChange().catch((e: unknown) => console.warn('Could not refresh after the import', e));
      await this.refresh().catch(() => {});
      return true;
    } catch (err) {
      const problems = (err as { problems?: unknown }).problems;
      this.importProblems = Array.isArray(problems) ? problems.map(String).slice(0, 20) : [];
      const why = err instanceof Error ? err.message : String(err);
      this.message = this.importProblems.length
        ? `Nothing was imported from ${file.name}; your data is unchanged. Problems found in the file:`
        : `Nothing was imported from ${file.name}; your data is unchanged. ${why}`;
      return false;
    } finally {
      this.busy = false;
    }
  }

  async deleteEverything(): Promise<void> {
    this.busy = true;
    try {
      await this.#beforeChange();
      await this.#ops.deleteEverything();
      this.message = 'Everything was deleted.';
      await this.#afterChange().catch((e: unknown) => console.warn('Could not refresh after deleting', e));
      await this.refresh().catch(() => {});
    } catch (err) {
      this.message = `Deleting failed: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      this.busy = false;
    }
  }
}
