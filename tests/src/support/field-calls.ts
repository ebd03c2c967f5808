import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLInputType,
  type GraphQLObjectType,
} from 'graphql';

/**
 * Calls of any root field of the served schema, for suites that walk every field (scopes,
 * guests): a new field is then covered, and must be decided on, as soon as it exists.
 */

/** A value of `type` that passes argument coercion; every ID is `id` (the rules under test run before any resolver reads it). */
export function sampleValue(type: GraphQLInputType, id: string): unknown {
  if (isNonNullType(type)) return sampleValue(type.ofType, id);
  if (isListType(type)) return [sampleValue(type.ofType, id)];
  const named = getNamedType(type);
  if (isEnumType(named)) return named.getValues()[0]!.name; // variables take enum names (ApiScope values are scope strings)
  if (isInputObjectType(named)) return Object.fromEntries(Object.values(named.getFields()).map((f) => [f.name, sampleValue(f.type, id)]));
  if (isScalarType(named)) {
    if (named.name === 'ID') return id;
    if (named.name === 'Int' || named.name === 'Float') return 1;
    if (named.name === 'Boolean') return true;
    if (named.name === 'DateTime') return new Date(Date.now() + 86_400_000).toISOString();
    return 'x';
  }
  throw new Error(`no sample for ${String(type)}`);
}

/** `<keyword>($a: T!, …) { field(a: $a, …) <selection> }` for one root field, with variables (sampleValue). */
export function rootFieldCall(keyword: string, root: GraphQLObjectType, fieldName: string, id: string) {
  const field = root.getFields()[fieldName]!;
  const vars = field.args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const args = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const named = getNamedType(field.type);
  const selection = 'getFields' in named ? ' { __typename }' : '';
  const query = `${keyword}${vars ? `(${vars})` : ''} { ${fieldName}${args ? `(${args})` : ''}${selection} }`;
  const variables = Object.fromEntries(field.args.map((a) => [a.name, sampleValue(a.type, id)]));
  return { query, variables };
}
