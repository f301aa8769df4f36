/**
 * The identity layer as the UI sees it: the node identity (made on first
 * run) and the person's profile. Both live outside the engine, so switching
 * models changes neither.
 */
import type { NodeIdentity } from '../services/identity';
import { formatFingerprint } from '../lib/governance/identity';

export interface Profile {
  profileName: string;
  profileLanguage: string;
  standingInstructions: string;
}

export interface ProfileStore {
  loadIdentity(): Promise<NodeIdentity>;
  loadProfile(): Promise<Profile>;
  saveProfile(profile: Profile): Promise<void>;
}

export class ProfileState {
  identity = $state.raw<NodeIdentity | null>(null);
  profile = $state<Profile>({ profileName: '', profileLanguage: '', standingInstructions: '' });
  message = $state('');

  fingerprint = $derived(this.identity ? formatFingerprint(this.identity.nodeId) : '');

  #store: ProfileStore;

  constructor(store: ProfileStore) {
    this.#store = store;
  }

  async load(): Promise<void> {
    const [identity, profile] = await Promise.all([this.#store.loadIdentity(), this.#store.loadProfile()]);
    this.identity = identity;
    this.profile = profile;
  }

  async save(next: Profile): Promise<void> {
    const clean: Profile = {
      profileName: next.profileName.trim().slice(0, 200),
      profileLanguage: next.profileLanguage.trim().slice(0, 100),
      standingInstructions: next.standingInstructions.trim().slice(0, 4000),
    };
    await this.#store.saveProfile(clean);
    this.profile = clean;
    this.message = 'Profile saved. It applies to every conversation from the next reply on.';
  }
}
