import { toAppError, type AppError } from '$lib/errors';

export type ListStatus = 'loading' | 'ready' | 'error';

/**
 * A list of what the viewer made or allowed (their apps, their tokens, the apps they connected),
 * and taking one of them away. A first load that fails shows as status 'error' (with a Try again);
 * a later one keeps the list on screen and only sets `error`.
 */
export class OwnList<T extends { id: string }> {
  items = $state<T[]>([]);
  status = $state<ListStatus>('loading');
  error = $state<AppError | null>(null);
  /** The item being taken away: one at a time. */
  removing = $state<string | null>(null);

  #fetch: () => Promise<T[]>;

  constructor(fetch: () => Promise<T[]>) {
    this.#fetch = fetch;
  }

  async load(): Promise<void> {
    try {
      this.items = await this.#fetch();
      this.status = 'ready';
      this.error = null;
    } catch (error) {
      this.error = toAppError(error);
      if (this.status === 'loading') this.status = 'error';
    }
  }

  /** Lists a new item first (in place of one with its id). */
  protected putFirst(item: T): void {
    this.items = [item, ...this.items.filter((i) => i.id !== item.id)];
  }

  /** Takes the item away on the server (`send`), then off the list; throws an AppError when refused. */
  protected async removeItem(id: string, send: () => Promise<unknown>): Promise<void> {
    if (this.removing) return;
    this.removing = id;
    try {
      await send();
      this.items = this.items.filter((i) => i.id !== id);
    } catch (error) {
      throw toAppError(error);
    } finally {
      this.removing = null;
    }
  }
}

/**
 * A form sent to the API: checked here first (the API has the final word), sent once at a time,
 * and what the API refused put beside the input field it names, else on the form as a whole.
 */
export class FormSubmission<Field extends string> {
  /** What was refused, by field (`form` for the form as a whole). */
  errors = $state<Partial<Record<Field, string>> & { form?: string }>({});
  sending = $state(false);

  #fields: readonly Field[];

  constructor(fields: readonly Field[]) {
    this.#fields = fields;
  }

  /** Resolves true when `send` went through (the form may clear), else the errors are set. */
  async submit(checked: Partial<Record<Field, string>>, send: () => Promise<void>): Promise<boolean> {
    this.errors = checked;
    if (Object.keys(checked).length > 0 || this.sending) return false;
    this.sending = true;
    try {
      await send();
      return true;
    } catch (error) {
      const refusal = toAppError(error);
      const field = this.#fields.find((name) => name === refusal.field?.replace(/^input\./, ''));
      // A computed key of a type parameter widens to string: the cast says what it is.
      this.errors = (field ? { [field]: refusal.message } : { form: refusal.message }) as typeof this.errors;
      return false;
    } finally {
      this.sending = false;
    }
  }
}
