import { graphql } from './tada';

/*
 * The audio mutations of the public contract (shared/contract.graphql):
 *   connectAudio(spaceId: ID!, offer: String!): AudioSession!   # { answer: String!, participant: Participant! }
 *   disconnectAudio(spaceId: ID!): Boolean!
 * and the audience tier (issue 10), where the server offers and the client answers:
 *   listenAudio(spaceId: ID!): AudioOffer!                      # { id, offer, participant }
 *   answerAudio(spaceId: ID!, offerId: ID!, answer: String!): Participant!
 * An API without them answers with a validation error; AudioConnection then shows audio as
 * unavailable instead of retrying (see isAudioUnsupported), or, without only the audience tier,
 * listens through connectAudio as before.
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

export const ListenAudioMutation = graphql(`
  mutation ListenAudio($spaceId: ID!) {
    listenAudio(spaceId: $spaceId) {
      id
      offer
      participant {
        id
      }
    }
  }
`);

export const AnswerAudioMutation = graphql(`
  mutation AnswerAudio($spaceId: ID!, $offerId: ID!, $answer: String!) {
    answerAudio(spaceId: $spaceId, offerId: $offerId, answer: $answer) {
      id
      audioTier
    }
  }
`);

export const DisconnectAudioMutation = graphql(`
  mutation DisconnectAudio($spaceId: ID!) {
    disconnectAudio(spaceId: $spaceId)
  }
`);

/*
 * STUN/TURN for the next connection (not in the contract: an addition of this API). TURN
 * credentials are short-lived and per user, so they are asked for before each connection; an API
 * without the query (or a failure) means connecting without any, directly.
 */
export const IceServersQuery = graphql(`
  query IceServers {
    iceServers {
      urls
      username
      credential
    }
  }
`);
