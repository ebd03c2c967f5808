import { graphql } from './tada';

/*
 * The audio mutations of the public contract (shared/contract.graphql):
 *   connectAudio(spaceId: ID!, offer: String!): AudioSession!   # { answer: String!, participant: Participant! }
 *   disconnectAudio(spaceId: ID!): Boolean!
 * An API without them answers with a validation error; AudioConnection then shows audio as
 * unavailable instead of retrying (see isAudioUnsupported).
 */

export const ConnectAudioMutation = graphql(`
  mutation ConnectAudio($spaceId: ID!, $offer: String!) {
    connectAudio(spaceId: $spaceId, offer: $offer) {
      answer
      participant {
        id
      }
    }
  }
`);

export const DisconnectAudioMutation = graphql(`
  mutation DisconnectAudio($spaceId: ID!) {
    disconnectAudio(spaceId: $spaceId)
  }
`);
