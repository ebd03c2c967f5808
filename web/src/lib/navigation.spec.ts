import { describe, expect, it } from 'vitest';
import { safeNext, signInHref } from './navigation';

describe('safeNext', () => {
  it('keeps same-site paths and refuses anything else', () => {
    expect(safeNext('/s/abc')).toBe('/s/abc');
    expect(safeNext(null)).toBe('/');
    expect(safeNext('https://evil.example')).toBe('/');
    expect(safeNext('//evil.example')).toBe('/');
    expect(safeNext('/\\evil.example')).toBe('/');
  });
});

describe('safeNext, harder cases', () => {
  it('keeps queries and fragments of same-origin paths', () => {
    expect(safeNext('/s/abc?x=1#top')).toBe('/s/abc?x=1#top');
  });

  it('refuses what a browser would read as another origin', () => {
    expect(safeNext('/\t/evil.example')).toBe('/');
    expect(safeNext('/\n/evil.example')).toBe('/');
    expect(safeNext('/s\\..\\..\\evil')).toBe('/');
    expect(safeNext('javascript:alert(1)')).toBe('/');
    expect(safeNext('')).toBe('/');
    expect(safeNext(undefined)).toBe('/');
  });
});

describe('signInHref', () => {
  it('carries a safe next path', () => {
    expect(signInHref('/s/abc')).toBe('/signin?next=%2Fs%2Fabc');
    expect(signInHref('/s/abc', 'signup')).toBe('/signup?next=%2Fs%2Fabc');
    expect(signInHref('https://evil.example')).toBe('/signin');
  });
});
