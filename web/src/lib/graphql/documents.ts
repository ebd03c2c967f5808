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
      handSeen
      speaking
      audioConnected
      present
      joinedAt
      user {
        ...UserFields
        avatarUrl(size: SMALL)
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
        isGuest
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
          isGuest
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
          isGuest
        }
      }
    }
  `,
  [UserFields],
);

/** A listener-only guest session for a signed-out visitor (the cookie is set as by signIn). */
export const StartGuestSessionMutation = graphql(
  `
    mutation StartGuestSession {
      startGuestSession {
        user {
          ...UserFields
          isGuest
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
// The audience's page leaves out handSeen (50 × a field): raised hands come with theirs in `hands`.

export const SpaceRoomQuery = graphql(`
  query SpaceRoom($id: ID!) {
    viewer {
      id
      handle
      displayName
      isGuest
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
        avatarUrl(size: SMALL)
      }
      stage {
        id
        role
        muted
        handRaised
        handSeen
        speaking
        audioConnected
        present
        joinedAt
        user {
          id
          handle
          displayName
          avatarUrl(size: SMALL)
        }
      }
      invitedSpeakers {
        id
        handle
        displayName
        avatarUrl(size: SMALL)
      }
      viewerParticipant {
        id
        role
        muted
        handRaised
        handSeen
        speaking
        audioConnected
        present
        joinedAt
        user {
          id
          handle
          displayName
          avatarUrl(size: SMALL)
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
              avatarUrl(size: SMALL)
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
            handSeen
            speaking
            audioConnected
            present
            joinedAt
            user {
              id
              handle
              displayName
              avatarUrl(size: SMALL)
            }
          }
        }
      }
    }
  }
`);

export type SpaceRoomData = NonNullable<ResultOf<typeof SpaceRoomQuery>['space']>;
export type ViewerData = NonNullable<ResultOf<typeof SpaceRoomQuery>['viewer']>;

/** Host or co-host: the raised hands learn a host saw them (opening Manage speakers). */
export const MarkHandsSeenMutation = graphql(`
  mutation MarkHandsSeen($spaceId: ID!) {
    markHandsSeen(spaceId: $spaceId)
  }
`);

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
            handSeen
            speaking
            audioConnected
            present
            joinedAt
            user {
              id
              handle
              displayName
              avatarUrl(size: SMALL)
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

// ---------------------------------------------------------------------------------------------
// Scheduled spaces and reminders (issue 11)

/** A card of an upcoming (scheduled) space, with the viewer's reminder and how many set one. */
export const UpcomingSpaceFields = graphql(
  `
    fragment UpcomingSpaceFields on Space {
      ...SpaceCardFields
      cancelled
      viewerHasReminder
      reminderCount
    }
  `,
  [SpaceCardFields],
);

export type UpcomingSpaceData = ResultOf<typeof UpcomingSpaceFields>;

export const UpcomingSpacesQuery = graphql(
  `
    query UpcomingSpaces($first: Int, $after: String) {
      upcomingSpaces(first: $first, after: $after) {
        edges {
          node {
            ...UpcomingSpaceFields
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  `,
  [UpcomingSpaceFields],
);

/** What a scheduled space's panel shows and edits. */
export const ScheduledSpaceFields = graphql(`
  fragment ScheduledSpaceFields on Space {
    id
    title
    state
    speakerPolicy
    scheduledFor
    cancelled
    viewerHasReminder
    reminderCount
    host {
      id
    }
  }
`);

export type ScheduledSpaceData = ResultOf<typeof ScheduledSpaceFields>;

export const ScheduledSpaceQuery = graphql(
  `
    query ScheduledSpace($id: ID!) {
      space(id: $id) {
        ...ScheduledSpaceFields
      }
    }
  `,
  [ScheduledSpaceFields],
);

export const UpdateSpaceMutation = graphql(
  `
    mutation UpdateSpace($spaceId: ID!, $input: UpdateSpaceInput!) {
      updateSpace(spaceId: $spaceId, input: $input) {
        ...ScheduledSpaceFields
      }
    }
  `,
  [ScheduledSpaceFields],
);

export const CancelSpaceMutation = graphql(
  `
    mutation CancelSpace($spaceId: ID!) {
      cancelSpace(spaceId: $spaceId) {
        ...ScheduledSpaceFields
      }
    }
  `,
  [ScheduledSpaceFields],
);

export const SetReminderMutation = graphql(`
  mutation SetReminder($spaceId: ID!, $on: Boolean!) {
    setReminder(spaceId: $spaceId, on: $on) {
      id
      viewerHasReminder
      reminderCount
    }
  }
`);

// ---------------------------------------------------------------------------------------------
// A profile's spaces (issue 11)

export const ProfileSpacesQuery = graphql(
  `
    query ProfileSpaces($handle: String!) {
      user(handle: $handle) {
        id
        liveSpace {
          id
          title
        }
        upcomingSpaces {
          ...UpcomingSpaceFields
        }
      }
    }
  `,
  [UpcomingSpaceFields],
);

export type ProfileSpacesData = NonNullable<ResultOf<typeof ProfileSpacesQuery>['user']>;

export const RecentSpacesQuery = graphql(
  `
    query RecentSpaces($handle: String!, $first: Int, $after: String) {
      user(handle: $handle) {
        id
        recentSpaces(first: $first, after: $after) {
          edges {
            node {
              id
              title
              startedAt
              endedAt
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
);

export type RecentSpaceData = NonNullable<ResultOf<typeof RecentSpacesQuery>['user']>['recentSpaces']['edges'][number]['node'];

// ---------------------------------------------------------------------------------------------
// Notifications (issue 11)

export const NotificationFields = graphql(`
  fragment NotificationFields on Notification {
    id
    kind
    createdAt
    read
    actor {
      id
      handle
      displayName
      avatarUrl(size: SMALL)
    }
    space {
      id
      title
      state
      scheduledFor
      cancelled
    }
    fleet {
      id
      author {
        handle
      }
    }
  }
`);

export type NotificationData = ResultOf<typeof NotificationFields>;

export const NotificationsQuery = graphql(
  `
    query Notifications($first: Int, $after: String) {
      notifications(first: $first, after: $after) {
        edges {
          node {
            ...NotificationFields
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
      unreadNotificationCount
    }
  `,
  [NotificationFields],
);

export const UnreadNotificationCountQuery = graphql(`
  query UnreadNotificationCount {
    unreadNotificationCount
  }
`);

export const MarkNotificationsReadMutation = graphql(`
  mutation MarkNotificationsRead($ids: [ID!]) {
    markNotificationsRead(ids: $ids)
  }
`);

export const NotificationsSubscription = graphql(
  `
    subscription NotificationsLive {
      notifications {
        ...NotificationFields
      }
    }
  `,
  [NotificationFields],
);

// ---------------------------------------------------------------------------------------------
// Fleets (issue 12)

/** What the bar and the viewer show of a fleet (the author-only counts are asked for separately). */
export const FleetFields = graphql(`
  fragment FleetFields on Fleet {
    id
    kind
    text
    caption
    background
    photoUrl
    createdAt
    expiresAt
    replyPolicy
    viewerHasSeen
    viewerCanReply
    viewerReplyRefusal
    viewCount
    space {
      id
      title
      state
    }
  }
`);

export const FleetAuthorFields = graphql(
  `
    fragment FleetAuthorFields on FleetAuthor {
      hasUnseen
      user {
        ...UserFields
        avatarUrl(size: SMALL)
      }
      fleets {
        ...FleetFields
      }
    }
  `,
  [UserFields, FleetFields],
);

export type FleetData = ResultOf<typeof FleetFields>;
export type FleetAuthorData = ResultOf<typeof FleetAuthorFields>;

export const FleetsBarQuery = graphql(
  `
    query FleetsBar {
      fleetsBar {
        ...FleetAuthorFields
      }
    }
  `,
  [FleetAuthorFields],
);

export const FleetsBarSubscription = graphql(
  `
    subscription FleetsBarUpdates {
      fleetsBar {
        ...FleetAuthorFields
      }
    }
  `,
  [FleetAuthorFields],
);

/** One author's active fleets (a link to /fleets/<handle> opened directly, or the viewer's own). */
export const UserFleetsQuery = graphql(
  `
    query UserFleets($handle: String!) {
      user(handle: $handle) {
        ...UserFields
        avatarUrl(size: SMALL)
        fleets {
          ...FleetFields
        }
      }
    }
  `,
  [UserFields, FleetFields],
);

/** The viewer's avatar for "Add a fleet" (before they have fleets) and their default reply policy. */
export const ViewerFleetDefaultsQuery = graphql(`
  query ViewerFleetDefaults {
    viewer {
      id
      avatarUrl(size: SMALL)
      defaultReplyPolicy
    }
  }
`);

export const PostFleetMutation = graphql(
  `
    mutation PostFleet($input: PostFleetInput!) {
      postFleet(input: $input) {
        ...FleetFields
      }
    }
  `,
  [FleetFields],
);

export const SetDefaultReplyPolicyMutation = graphql(`
  mutation SetDefaultReplyPolicy($policy: ReplyPolicy!) {
    setDefaultReplyPolicy(policy: $policy) {
      id
      defaultReplyPolicy
    }
  }
`);

export const DeleteFleetMutation = graphql(`
  mutation DeleteFleet($id: ID!) {
    deleteFleet(id: $id)
  }
`);

export const MarkFleetSeenMutation = graphql(`
  mutation MarkFleetSeen($id: ID!) {
    markFleetSeen(id: $id) {
      id
      viewerHasSeen
    }
  }
`);

export const ReplyToFleetMutation = graphql(`
  mutation ReplyToFleet($fleetId: ID!, $input: ReplyToFleetInput!) {
    replyToFleet(fleetId: $fleetId, input: $input) {
      id
    }
  }
`);

export const FleetViewersQuery = graphql(
  `
    query FleetViewers($id: ID!, $first: Int, $after: String) {
      node(id: $id) {
        ... on Fleet {
          id
          viewCount
          viewers(first: $first, after: $after) {
            edges {
              node {
                ...UserFields
                avatarUrl(size: SMALL)
              }
            }
            pageInfo {
              hasNextPage
              endCursor
            }
          }
        }
      }
    }
  `,
  [UserFields],
);

export const FleetRepliesQuery = graphql(
  `
    query FleetReplies($id: ID!, $first: Int, $after: String) {
      node(id: $id) {
        ... on Fleet {
          id
          replies(first: $first, after: $after) {
            edges {
              node {
                id
                text
                emoji
                createdAt
                author {
                  ...UserFields
                  avatarUrl(size: SMALL)
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
    }
  `,
  [UserFields],
);

export type FleetViewerData = NonNullable<
  Extract<NonNullable<ResultOf<typeof FleetViewersQuery>['node']>, { viewers: unknown }>
>['viewers']['edges'][number]['node'];
export type FleetReplyData = NonNullable<
  Extract<NonNullable<ResultOf<typeof FleetRepliesQuery>['node']>, { replies: unknown }>
>['replies']['edges'][number]['node'];
