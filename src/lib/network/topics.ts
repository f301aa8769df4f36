/**
 * Gossip topics of a network. One topic per traffic class, so a node can
 * subscribe to what it needs and gossipsub meshes stay separate: artifacts
 * are rare and large, votes frequent and small, reconciliation bursty,
 * discovery constant. The protocol version is in the name: a v2 network
 * lives on other topics, and a v1 node never sees its traffic.
 */
import { NETWORK_ID_PATTERN } from './network-key';
import type { EnvelopeType } from './message-bodies';

export const TOPIC_PREFIX = 'h3lix';
export const TOPIC_VERSION = 'v1';
export const TOPIC_CHANNELS = ['artifacts', 'votes', 'sync', 'discovery'] as const;
export type TopicChannel = (typeof TOPIC_CHANNELS)[number];

/**
 * Which topic each envelope type travels on (an announce of kind rotation or
 * leave too goes on discovery). Calibration tasks and answers are targeted
 * at one node like reconciliation, so they share its topic.
 */
export const CHANNEL_OF_TYPE: Readonly<Record<EnvelopeType, TopicChannel>> = {
  artifact: 'artifacts',
  vote: 'votes',
  'sync-request': 'sync',
  'sync-response': 'sync',
  announce: 'discovery',
  'calibration-task': 'sync',
  'calibration-answer': 'sync',
};

export class TopicError extends Error {
  override readonly name = 'TopicError';
}

/** `h3lix/<networkId>/v1/<channel>` */
export function topicName(networkId: string, channel: TopicChannel): string {
  if (!NETWORK_ID_PATTERN.test(networkId)) throw new TopicError(`${JSON.stringify(networkId)} is not a network id`);
  return `${TOPIC_PREFIX}/${networkId}/${TOPIC_VERSION}/${channel}`;
}

/** All topics a member subscribes to. */
export function networkTopics(networkId: string): Record<TopicChannel, string> {
  return Object.fromEntries(TOPIC_CHANNELS.map((c) => [c, topicName(networkId, c)])) as Record<TopicChannel, string>;
}

/** The topic an envelope of `type` is published on. */
export function topicForType(networkId: string, type: EnvelopeType): string {
  return topicName(networkId, CHANNEL_OF_TYPE[type]);
}
