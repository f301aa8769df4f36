/**
 * The relay's peer key: the only thing the relay stores. Its peer id is part
 * of the relay's multiaddr, which invite links carry, so it must survive
 * restarts. Generated (Ed25519) on first run, written with mode 0600.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';

export interface LoadedKey {
  key: PrivateKey;
  created: boolean;
}

export async function loadOrCreateKey(path: string): Promise<LoadedKey> {
  let bytes: Buffer | undefined;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (bytes !== undefined) {
    try {
      return { key: privateKeyFromProtobuf(new Uint8Array(bytes)), created: false };
    } catch (err) {
      // Never overwrite a key we cannot read: that would silently change the
      // relay's address and break every invite link that carries it.
      throw new Error(`The relay key file ${path} is not a valid libp2p private key: ${(err as Error).message}`);
    }
  }
  const key = await generateKeyPair('Ed25519');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' });
  await rename(tmp, path);
  return { key, created: true };
}
