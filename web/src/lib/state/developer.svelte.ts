import type { Api } from '$lib/graphql/api';
import {
  AppsQuery,
  CreatePersonalAccessTokenMutation,
  DeleteAppMutation,
  PersonalAccessTokensQuery,
  RegisterAppMutation,
  RevokePersonalAccessTokenMutation,
  type AppData,
  type PersonalAccessTokenData,
} from '$lib/graphql/apps';
import type { ApiScope } from '$lib/scopes';
import { FormSubmission, OwnList } from './own-list.svelte';

/** Lifetimes a personal access token may be given here (the API takes 1..366 days). */
export const TOKEN_EXPIRY_DAYS = [7, 30, 90, 365] as const;
export type TokenExpiryDays = (typeof TOKEN_EXPIRY_DAYS)[number];

/** The redirect URIs of the form's text area: one a line, blanks dropped, each once. */
export function parseRedirectUris(text: string): string[] {
  return [...new Set(text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean))];
}

export interface AppForm {
  name: string;
  description: string;
  redirectUris: string;
  confidential: boolean;
}

export type AppFormErrors = Partial<Record<'name' | 'redirectUris', string>>;

/** Checks of the registration form before asking the API (which has the final word). */
export function validateAppForm(form: AppForm): AppFormErrors {
  const errors: AppFormErrors = {};
  if (!form.name.trim()) errors.name = "Enter the app's name, as people will see it when they allow it.";
  const uris = parseRedirectUris(form.redirectUris);
  if (uris.length === 0) errors.redirectUris = 'Enter at least one redirect URI.';
  else {
    const bad = uris.find((uri) => !URL.canParse(uri) || new URL(uri).hash !== '');
    if (bad) errors.redirectUris = `“${bad}” is not an absolute URL without a #fragment.`;
  }
  return errors;
}

export interface TokenForm {
  name: string;
  scopes: ApiScope[];
  expiresInDays: TokenExpiryDays;
}

export type TokenFormErrors = Partial<Record<'name' | 'scopes', string>>;

export function validateTokenForm(form: TokenForm): TokenFormErrors {
  const errors: TokenFormErrors = {};
  if (!form.name.trim()) errors.name = 'Name the token after what will use it (e.g. “my bot”).';
  if (form.scopes.length === 0) errors.scopes = 'Choose at least one thing the token may do.';
  return errors;
}

/** The apps the viewer registered: the list, registering one (its secret shown once) and deleting. */
export class RegisteredApps extends OwnList<AppData> {
  /** The app just registered and its secret (confidential apps), until dismissed: never shown again. */
  registered = $state<{ app: AppData; clientSecret: string | null } | null>(null);

  #api: Api;
  #form = new FormSubmission<keyof AppFormErrors>(['name', 'redirectUris']);

  constructor(api: Api) {
    super(async () => (await api.query(AppsQuery, {})).apps);
    this.#api = api;
  }

  get apps(): AppData[] {
    return this.items;
  }
  /** The app being deleted. */
  get deleting(): string | null {
    return this.removing;
  }
  get registering(): boolean {
    return this.#form.sending;
  }
  /** What registering refused, by field (`form` for the form as a whole). */
  get formErrors(): AppFormErrors & { form?: string } {
    return this.#form.errors;
  }

  /** Registers the app; resolves true when it was (the form may clear), else the errors are set. */
  register(form: AppForm): Promise<boolean> {
    return this.#form.submit(validateAppForm(form), async () => {
      const description = form.description.trim();
      const data = await this.#api.mutate(RegisterAppMutation, {
        input: {
          name: form.name.trim(),
          description: description || null,
          redirectUris: parseRedirectUris(form.redirectUris),
          confidential: form.confidential,
        },
      });
      const { app, clientSecret } = data.registerApp;
      this.registered = { app, clientSecret: clientSecret ?? null };
      this.putFirst(app);
    });
  }

  dismissRegistered(): void {
    this.registered = null;
  }

  /** Deletes the app (every token it holds stops working); throws an AppError when refused. */
  remove(id: string): Promise<void> {
    return this.removeItem(id, async () => {
      await this.#api.mutate(DeleteAppMutation, { id });
      if (this.registered?.app.id === id) this.registered = null;
    });
  }
}

/** The viewer's personal access tokens: the list, creating one (shown once) and revoking. */
export class PersonalTokens extends OwnList<PersonalAccessTokenData> {
  /** The token just made, until dismissed: the only time it is ever shown. */
  created = $state<{ token: string; personalAccessToken: PersonalAccessTokenData } | null>(null);

  #api: Api;
  #form = new FormSubmission<keyof TokenFormErrors>(['name', 'scopes']);

  constructor(api: Api) {
    super(async () => (await api.query(PersonalAccessTokensQuery, {})).personalAccessTokens);
    this.#api = api;
  }

  get tokens(): PersonalAccessTokenData[] {
    return this.items;
  }
  /** The token being revoked. */
  get revoking(): string | null {
    return this.removing;
  }
  get creating(): boolean {
    return this.#form.sending;
  }
  get formErrors(): TokenFormErrors & { form?: string } {
    return this.#form.errors;
  }

  create(form: TokenForm): Promise<boolean> {
    return this.#form.submit(validateTokenForm(form), async () => {
      const data = await this.#api.mutate(CreatePersonalAccessTokenMutation, {
        input: { name: form.name.trim(), scopes: form.scopes, expiresInDays: form.expiresInDays },
      });
      const { token, personalAccessToken } = data.createPersonalAccessToken;
      this.created = { token, personalAccessToken };
      this.putFirst(personalAccessToken);
    });
  }

  dismissCreated(): void {
    this.created = null;
  }

  /** Revokes the token (scripts using it get UNAUTHENTICATED); throws an AppError when refused. */
  revoke(id: string): Promise<void> {
    return this.removeItem(id, async () => {
      await this.#api.mutate(RevokePersonalAccessTokenMutation, { id });
      if (this.created?.personalAccessToken.id === id) this.created = null;
    });
  }
}
