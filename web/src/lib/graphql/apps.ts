import { UserFields } from './documents';
import { graphql, type ResultOf, type VariablesOf } from './tada';

/*
 * Third-party apps (issue 13): the OAuth consent screen, the developer page (apps the viewer
 * registered, personal access tokens) and the apps the viewer connected. Every operation here is
 * session-only on the API: a token can never mint or manage tokens.
 */

export const AppFields = graphql(
  `
    fragment AppFields on App {
      id
      clientId
      name
      description
      redirectUris
      confidential
      createdAt
      owner {
        ...UserFields
      }
    }
  `,
  [UserFields],
);

export const PersonalAccessTokenFields = graphql(`
  fragment PersonalAccessTokenFields on PersonalAccessToken {
    id
    name
    scopes
    createdAt
    expiresAt
    lastUsedAt
  }
`);

export type AppData = ResultOf<typeof AppFields>;
export type PersonalAccessTokenData = ResultOf<typeof PersonalAccessTokenFields>;

// ---------------------------------------------------------------------------------------------
// Consent screen (GET /oauth/authorize)

export const AuthorizationRequestQuery = graphql(
  `
    query AuthorizationRequest($input: AuthorizationRequestInput!) {
      authorizationRequest(input: $input) {
        redirectUri
        scopes
        app {
          ...AppFields
        }
      }
    }
  `,
  [AppFields],
);

export const ApproveAuthorizationMutation = graphql(`
  mutation ApproveAuthorization($input: AuthorizationRequestInput!) {
    approveAuthorization(input: $input) {
      redirectTo
    }
  }
`);

export const DenyAuthorizationMutation = graphql(`
  mutation DenyAuthorization($input: AuthorizationRequestInput!) {
    denyAuthorization(input: $input) {
      redirectTo
    }
  }
`);

export type AuthorizationRequestInput = VariablesOf<typeof AuthorizationRequestQuery>['input'];
export type AuthorizationRequestData = ResultOf<typeof AuthorizationRequestQuery>['authorizationRequest'];

// ---------------------------------------------------------------------------------------------
// Developer page: registered apps and personal access tokens

export const AppsQuery = graphql(
  `
    query Apps {
      apps {
        ...AppFields
      }
    }
  `,
  [AppFields],
);

export const RegisterAppMutation = graphql(
  `
    mutation RegisterApp($input: RegisterAppInput!) {
      registerApp(input: $input) {
        clientSecret
        app {
          ...AppFields
        }
      }
    }
  `,
  [AppFields],
);

export const DeleteAppMutation = graphql(`
  mutation DeleteApp($id: ID!) {
    deleteApp(id: $id)
  }
`);

export const PersonalAccessTokensQuery = graphql(
  `
    query PersonalAccessTokens {
      personalAccessTokens {
        ...PersonalAccessTokenFields
      }
    }
  `,
  [PersonalAccessTokenFields],
);

export const CreatePersonalAccessTokenMutation = graphql(
  `
    mutation CreatePersonalAccessToken($input: CreatePersonalAccessTokenInput!) {
      createPersonalAccessToken(input: $input) {
        token
        personalAccessToken {
          ...PersonalAccessTokenFields
        }
      }
    }
  `,
  [PersonalAccessTokenFields],
);

export const RevokePersonalAccessTokenMutation = graphql(`
  mutation RevokePersonalAccessToken($id: ID!) {
    revokePersonalAccessToken(id: $id) {
      id
    }
  }
`);

// ---------------------------------------------------------------------------------------------
// Connected apps (settings)

export const AppAuthorizationsQuery = graphql(
  `
    query AppAuthorizations {
      appAuthorizations {
        id
        scopes
        createdAt
        lastUsedAt
        app {
          id
          name
          description
          owner {
            ...UserFields
          }
        }
      }
    }
  `,
  [UserFields],
);

export const RevokeAppAuthorizationMutation = graphql(`
  mutation RevokeAppAuthorization($id: ID!) {
    revokeAppAuthorization(id: $id)
  }
`);

export type AppAuthorizationData = ResultOf<typeof AppAuthorizationsQuery>['appAuthorizations'][number];
