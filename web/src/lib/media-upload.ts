import { AppError, fromHttpError, toAppError } from '$lib/errors';

/**
 * POST an image to one of the API's media endpoints (/media/avatar, /media/fleet-photo) with the
 * image itself as the body and its own content type; the session cookie goes along (same
 * origin). Resolves with the answer's `data`; error answers carry the GraphQL error shape and
 * become an AppError naming `field`.
 */
export async function postImage<T extends object>(
  fetchImpl: typeof fetch,
  path: string,
  image: Blob,
  field: 'avatar' | 'photo',
): Promise<Partial<T>> {
  let response: Response;
  try {
    response = await fetchImpl(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': image.type || 'application/octet-stream' },
      body: image,
    });
  } catch (error) {
    throw toAppError(error instanceof TypeError ? error : new TypeError('network failure'));
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw fromHttpError(response.status, body, field);
  const data = (body as { data?: Partial<T> } | null)?.data;
  if (!data) throw emptyAnswer();
  return data;
}

export const emptyAnswer = () => new AppError('UNKNOWN', 'The server sent an empty answer. Please try again.');
