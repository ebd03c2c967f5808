import { graphql, type ResultOf } from './tada';

// ---------------------------------------------------------------------------------------------
// Fragments

export const UserFields = graphql(`
  fragment UserFields on User {
    id
    handle
    displayName
  }
`);

export const ParticipantFields = graphql(
  `
    fragment ParticipantFields on Participant {
      id
      role
      muted
      handRaised
      speaking
      audioConnected
      present
      joinedAt
      user {
        ...UserFields
      }
    }
  `,
  [UserFields],
);

export const SpaceCardFields = graphql(
  `
    fragment SpaceCardFields on Space {
      id
      title
      state
      speakerPolicy
      scheduledFor
      startedAt
      participantCount
      listenerCount
      host {
        ...UserFields
        avatarUrl(size: SMALL)
      }
      stage {
        id
        role
        speaking
        user {
          ...UserFields
          avatarUrl(size: SMALL)
        }
      }
    }
  `,
  [UserFields],
);

export type UserBasic = ResultOf<typeof UserFields>;
export type ParticipantData = ResultOf<typeof ParticipantFields>;
export type SpaceCardData = ResultOf<typeof SpaceCardFields>;

// ---------------------------------------------------------------------------------------------
// Session

export const ViewerQuery = graphql(
  `
    query Viewer {
      viewer {
        ...UserFields
      }
    }
  `,
  [UserFields],
);

export const SignInMutation = graphql(
  `
    mutation SignIn($input: SignInInput!) {
      signIn(input: $input) {
        user {
          ...UserFields
        }
      }
    }
  `,
  [UserFields],
);

export const SignUpMutation = graphql(
  `
    mutation SignUp($input: SignUpInput!) {
      signUp(input: $input) {
        user {
          ...UserFields
        }
      }
    }
  `,
  [UserFields],
);

export const SignOutMutation = graphql(`
  mutation SignOut {
    signOut
  }
`);

// ---------------------------------------------------------------------------------------------
// Home

export const SpacesBarQuery = graphql(
  `
    query SpacesBar {
      spacesBar {
        ...SpaceCardFields
      }
    }
  `,
  [SpaceCardFields],
);

export const SpacesBarSubscription = graphql(
  `
    subscription SpacesBarUpdates {
      spacesBar {
        ...SpaceCardFields
      }
    }
  `,
  [SpaceCardFields],
);

export const LiveSpacesQuery = graphql(
  `
    query LiveSpaces($first: Int, $after: String) {
      liveSpaces(first: $first, after: $after) {
        edges {
          node {
            ...SpaceCardFields
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  `,
  [SpaceCardFields],
);

export const CreateSpaceMutation = graphql(`
  mutation CreateSpace($input: CreateSpaceInput!) {
    createSpace(input: $input) {
      id
      state
    }
  }
`);

// ---------------------------------------------------------------------------------------------
// Profiles

export const ProfileQuery = graphql(
  `
    query Profile($handle: String!) {
      viewer {
        id
      }
      user(handle: $handle) {
        ...UserFields
        bio
        avatarUrl(size: SMALL)
        avatarLargeUrl: avatarUrl(size: LARGE)
        followerCount
        followingCount
        followsViewer
        viewerFollows
      }
    }
  `,
  [UserFields],
);

export type ProfileUser = NonNullable<ResultOf<typeof ProfileQuery>['user']>;

export const FollowersQuery = graphql(
  `
    query Followers($handle: String!, $first: Int, $after: String) {
      user(handle: $handle) {
        id
        followers(first: $first, after: $after) {
          edges {
            node {
              ...UserFields
              avatarUrl(size: SMALL)
              viewerFollows
            }
          }
          pageInfo {
            hasNextPage
            endCursor
          }
        }
      }
    }
  `,
  [UserFields],
);

export const FollowingQuery = graphql(
  `
    query Following($handle: String!, $first: Int, $after: String) {
      user(handle: $handle) {
        id
        following(first: $first, after: $after) {
          edges {
            node {
              ...UserFields
              avatarUrl(size: SMALL)
              viewerFollows
            }
          }
          pageInfo {
            hasNextPage
            endCursor
          }
        }
      }
    }
  `,
  [UserFields],
);

export const FollowMutation = graphql(`
  mutation Follow($userId: ID!) {
    follow(userId: $userId) {
      id
      viewerFollows
      followerCount
    }
  }
`);

export const UnfollowMutation = graphql(`
  mutation Unfollow($userId: ID!) {
    unfollow(userId: $userId) {
      id
      viewerFollows
      followerCount
    }
  }
`);

export const UserByHandleQuery = graphql(
  `
    query UserByHandle($handle: String!) {
      user(handle: $handle) {
        ...UserFields
      }
    }
  `,
  [UserFields],
);

export const UpdateProfileMutation = graphql(
  `
    mutation UpdateProfile($input: UpdateProfileInput!) {
      updateProfile(input: $input) {
        ...UserFields
        bio
        avatarUrl(size: SMALL)
        avatarLargeUrl: avatarUrl(size: LARGE)
      }
    }
  `,
  [UserFields],
);

export const RemoveAvatarMutation = graphql(
  `
    mutation RemoveAvatar {
      removeAvatar {
        ...UserFields
        avatarUrl(size: SMALL)
        avatarLargeUrl: avatarUrl(size: LARGE)
      }
    }
  `,
  [UserFields],
);

// ---------------------------------------------------------------------------------------------
// Search and suggested people

/** A person in search results and suggestions: enough for a row with a follow button. */
export const PersonFields = graphql(
  `
    fragment PersonFields on User {
      ...UserFields
      avatarUrl(size: SMALL)
      bio
      viewerFollows
      followsViewer
    }
  `,
  [UserFields],
);

export type PersonData = ResultOf<typeof PersonFields>;

export const SearchPeopleQuery = graphql(
  `
    query SearchPeople($query: String!, $first: Int, $after: String) {
      search(query: $query, first: $first, after: $after) {
        edges {
          node {
            ...PersonFields
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  `,
  [PersonFields],
);

export const SearchSpacesQuery = graphql(
  `
    query SearchSpaces($query: String!, $first: Int, $after: String) {
      searchSpaces(query: $query, first: $first, after: $after) {
        edges {
          node {
            ...SpaceCardFields
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  `,
  [SpaceCardFields],
);

export const SuggestedUsersQuery = graphql(
  `
    query SuggestedUsers($first: Int) {
      suggestedUsers(first: $first) {
        followedByFollowingCount
        followedBy {
          id
          handle
        }
        user {
          ...PersonFields
        }
      }
    }
  `,
  [PersonFields],
);

export type SuggestedUserData = ResultOf<typeof SuggestedUsersQuery>['suggestedUsers'][number];

// ---------------------------------------------------------------------------------------------
// The space page

// The API's cost rule multiplies a list by its literal `first` and every fragment spread by
// 2.25, so this query spells its fields out (same shape as ParticipantFields / UserFields).

export const SpaceRoomQuery = graphql(`
  query SpaceRoom($id: ID!) {
    viewer {
      id
      handle
      displayName
    }
    space(id: $id) {
      id
      title
      state
      speakerPolicy
      scheduledFor
      startedAt
      endedAt
      participantCount
      listenerCount
      viewerCanSpeak
      viewerRemoved
      host {
        id
        handle
        displayName
      }
      stage {
        id
        role
        muted
        handRaised
        speaking
        audioConnected
        present
        joinedAt
        user {
          id
          handle
          displayName
        }
      }
      invitedSpeakers {
        id
        handle
        displayName
      }
      viewerParticipant {
        id
        role
        muted
        handRaised
        speaking
        audioConnected
        present
        joinedAt
        user {
          id
          handle
          displayName
        }
      }
      audience: participants(first: 50, group: AUDIENCE) {
        edges {
          node {
            id
            role
            muted
            handRaised
            speaking
            audioConnected
            present
            joinedAt
            user {
              id
              handle
              displayName
            }
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
      hands: participants(first: 20, group: HANDS) {
        edges {
          node {
            id
            role
            muted
            handRaised
            speaking
            audioConnected
            present
            joinedAt
            user {
              id
              handle
              displayName
            }
          }
        }
      }
    }
  }
`);

export type SpaceRoomData = NonNullable<ResultOf<typeof SpaceRoomQuery>['space']>;

/** The host's end screen: how the space went (null for anyone else, and while live). */
export const SpaceRecapQuery = graphql(`
  query SpaceRecap($id: ID!) {
    space(id: $id) {
      id
      recap {
        durationSeconds
        peakListeners
        speakers {
          id
          handle
          displayName
          avatarUrl(size: SMALL)
        }
      }
    }
  }
`);

export type SpaceRecapData = NonNullable<NonNullable<ResultOf<typeof SpaceRecapQuery>['space']>['recap']>;

/**
 * The next page of a space's audience (listeners, raised hands included): the page never loads
 * the whole audience, only what the person asks to see.
 */
export const AudiencePageQuery = graphql(`
  query AudiencePage($id: ID!, $after: String) {
    space(id: $id) {
      id
      listenerCount
      audience: participants(first: 50, after: $after, group: AUDIENCE) {
        edges {
          node {
            id
            role
            muted
            handRaised
            speaking
            audioConnected
            present
            joinedAt
            user {
              id
              handle
              displayName
            }
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);

/**
 * Each event carries what changed, so the page patches its state without asking again; only
 * what an event cannot say (a policy's effect on the stage) costs a (coalesced) refetch.
 * `space` is left out on purpose: the server would load it for every subscriber on every event.
 */
export const SpaceEventsSubscription = graphql(
  `
    subscription SpaceEvents($spaceId: ID!) {
      spaceEvents(spaceId: $spaceId) {
        kind
        at
        emoji
        user {
          ...UserFields
        }
        participant {
          ...ParticipantFields
        }
        audience {
          listenerCount
          joined
          left
          sample {
            ...UserFields
          }
        }
      }
    }
  `,
  [UserFields, ParticipantFields],
);

export type SpaceEventData = ResultOf<typeof SpaceEventsSubscription>['spaceEvents'];
export type AudienceUpdateData = NonNullable<SpaceEventData['audience']>;

export const JoinSpaceMutation = graphql(
  `
    mutation JoinSpace($spaceId: ID!) {
      joinSpace(spaceId: $spaceId) {
        ...ParticipantFields
      }
    }
  `,
  [ParticipantFields],
);

export const LeaveSpaceMutation = graphql(`
  mutation LeaveSpace($spaceId: ID!) {
    leaveSpace(spaceId: $spaceId)
  }
`);

export const SetMutedMutation = graphql(
  `
    mutation SetMuted($spaceId: ID!, $muted: Boolean!) {
      setMuted(spaceId: $spaceId, muted: $muted) {
        ...ParticipantFields
      }
    }
  `,
  [ParticipantFields],
);

export const RequestToSpeakMutation = graphql(
  `
    mutation RequestToSpeak($spaceId: ID!, $raised: Boolean!) {
      requestToSpeak(spaceId: $spaceId, raised: $raised) {
        ...ParticipantFields
      }
    }
  `,
  [ParticipantFields],
);

export const AcceptInviteMutation = graphql(
  `
    mutation AcceptSpeakerInvite($spaceId: ID!) {
      acceptSpeakerInvite(spaceId: $spaceId) {
        ...ParticipantFields
      }
    }
  `,
  [ParticipantFields],
);

export const ReactMutation = graphql(`
  mutation React($spaceId: ID!, $emoji: String!) {
    react(spaceId: $spaceId, emoji: $emoji)
  }
`);

export const SetRoleMutation = graphql(
  `
    mutation SetParticipantRole($spaceId: ID!, $userId: ID!, $role: ParticipantRole!) {
      setParticipantRole(spaceId: $spaceId, userId: $userId, role: $role) {
        ...ParticipantFields
      }
    }
  `,
  [ParticipantFields],
);

export const MuteParticipantMutation = graphql(
  `
    mutation MuteParticipant($spaceId: ID!, $userId: ID!) {
      muteParticipant(spaceId: $spaceId, userId: $userId) {
        ...ParticipantFields
      }
    }
  `,
  [ParticipantFields],
);

export const MuteAllMutation = graphql(`
  mutation MuteAll($spaceId: ID!) {
    muteAll(spaceId: $spaceId) {
      id
    }
  }
`);

export const RemoveParticipantMutation = graphql(`
  mutation RemoveParticipant($spaceId: ID!, $userId: ID!) {
    removeParticipant(spaceId: $spaceId, userId: $userId) {
      id
    }
  }
`);

export const InviteSpeakerMutation = graphql(
  `
    mutation InviteSpeaker($spaceId: ID!, $userId: ID!) {
      inviteSpeaker(spaceId: $spaceId, userId: $userId) {
        id
        invitedSpeakers {
          ...UserFields
        }
      }
    }
  `,
  [UserFields],
);

export const RevokeInviteMutation = graphql(
  `
    mutation RevokeSpeakerInvite($spaceId: ID!, $userId: ID!) {
      revokeSpeakerInvite(spaceId: $spaceId, userId: $userId) {
        id
        invitedSpeakers {
          ...UserFields
        }
      }
    }
  `,
  [UserFields],
);

export const SetPolicyMutation = graphql(`
  mutation SetSpeakerPolicy($spaceId: ID!, $policy: SpeakerPolicy!) {
    setSpeakerPolicy(spaceId: $spaceId, policy: $policy) {
      id
      speakerPolicy
    }
  }
`);

export const EndSpaceMutation = graphql(`
  mutation EndSpace($spaceId: ID!) {
    endSpace(spaceId: $spaceId) {
      id
      state
      endedAt
    }
  }
`);

export const StartSpaceMutation = graphql(`
  mutation StartSpace($spaceId: ID!) {
    startSpace(spaceId: $spaceId) {
      id
      state
      startedAt
    }
  }
`);
