import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { compilePolicy, JIT_AFTER_RUNS } from './useJit.ts';

describe('compilePolicy', () => {
  const trusted = parse('query Trusted { viewer { id } }');
  const policy = compilePolicy((document) => document === trusted);

  it('compiles a trusted document on its first run', () => {
    expect(policy(trusted)).toBe(true);
  });

  it('runs an untrusted document with graphql-js until it has repeated JIT_AFTER_RUNS times', () => {
    const repeated = parse('{ viewer { handle } }');
    const answers = Array.from({ length: JIT_AFTER_RUNS + 2 }, () => policy(repeated));
    expect(answers.slice(0, JIT_AFTER_RUNS)).toEqual(Array(JIT_AFTER_RUNS).fill(false));
    expect(answers.slice(JIT_AFTER_RUNS)).toEqual([true, true]);
  });

  it('never compiles a stream of distinct documents', () => {
    const answers = Array.from({ length: 50 }, (_, i) => policy(parse(`{ user(handle: "u${i}") { id } }`)));
    expect(answers.every((a) => a === false)).toBe(true);
  });
});
