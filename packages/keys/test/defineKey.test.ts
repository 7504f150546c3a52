import { InvalidArgumentError } from '@cache/core';
import { describe, expect, expectTypeOf, test } from 'vitest';
import {
  createKeyBuilder,
  defineKey,
  type KeyTemplate,
  key,
  type TemplateParamNames,
  type TemplateParams,
} from '../src/index.js';

describe('defineKey', () => {
  test('fills the placeholders of a template', () => {
    const profileKey = defineKey('user:{id}:profile');
    expect(profileKey({ id: 123 })).toBe('user:123:profile');
  });

  test('builds the same key as key() with the same segments', () => {
    const listKey = defineKey('api:v2:{resource}:list:page:{page}');
    expect(listKey({ resource: 'a:b c', page: 1 })).toBe(
      key('api', 'v2', 'a:b c', 'list', 'page', 1),
    );
  });

  test('hashes a long parameter', () => {
    const searchKey = defineKey('search:{query}');
    expect(searchKey({ query: 'q'.repeat(500) })).toMatch(/^search:#[\w-]{22}$/);
  });

  test('fills a placeholder used twice with the same value', () => {
    expect(defineKey('{a}:to:{a}')({ a: 1 })).toBe('1:to:1');
  });

  test('takes no argument when the template has no placeholder', () => {
    expect(defineKey('stats:daily')()).toBe('stats:daily');
  });

  test('keeps the template it was made from', () => {
    expect(defineKey('user:{id}').template).toBe('user:{id}');
  });

  test('uses the separator of its builder', () => {
    const keys = createKeyBuilder({ separator: '/' });
    expect(keys.defineKey('user/{id}')({ id: 'a/b' })).toBe('user/a%2Fb');
  });

  test('rejects a missing parameter at run time', () => {
    const profileKey = defineKey('user:{id}:profile') as (params: object) => string;
    expect(() => profileKey({})).toThrow(/missing parameter "id"/);
    expect(() => profileKey({ id: undefined })).toThrow(InvalidArgumentError);
  });

  test('rejects an unexpected parameter at run time', () => {
    const profileKey = defineKey('user:{id}:profile') as (params: object) => string;
    expect(() => profileKey({ id: 1, name: 'x' })).toThrow(/has no parameter "name"/);
  });

  test('rejects a parameter that is not a string or a number', () => {
    const profileKey = defineKey('user:{id}') as (params: object) => string;
    for (const bad of [null, {}, true, '', Number.NaN]) {
      expect(() => profileKey({ id: bad })).toThrow(
        expect.objectContaining({ argument: 'params.id' }),
      );
    }
  });

  test('rejects a placeholder that does not fill a whole segment', () => {
    expect(() => defineKey('page-{n}')).toThrow(/one whole \{name\} placeholder/);
    expect(() => defineKey('user:{id')).toThrow(InvalidArgumentError);
    expect(() => defineKey('user:{1d}')).toThrow(InvalidArgumentError);
  });

  test('rejects an empty template and an empty segment in a template', () => {
    expect(() => defineKey('')).toThrow(expect.objectContaining({ argument: 'template' }));
    expect(() => defineKey('user::{id}')).toThrow(
      expect.objectContaining({ argument: 'template' }),
    );
  });
});

describe('defineKey types', () => {
  test('infers the parameter object from the template', () => {
    const profileKey = defineKey('user:{id}:profile');
    expectTypeOf(profileKey).parameter(0).toEqualTypeOf<{ id: string | number }>();
    expectTypeOf(profileKey).returns.toEqualTypeOf<string>();
  });

  test('infers every placeholder of a template', () => {
    expectTypeOf<TemplateParamNames<'api:{version}:{resource}:page:{page}'>>().toEqualTypeOf<
      'version' | 'resource' | 'page'
    >();
    expectTypeOf<TemplateParams<'{a}:{b}'>>().toEqualTypeOf<{
      a: string | number;
      b: string | number;
    }>();
  });

  test('makes a missing or an unexpected parameter a type error', () => {
    const profileKey = defineKey('user:{id}:profile');
    // @ts-expect-error id is missing
    expect(() => profileKey({})).toThrow(InvalidArgumentError);
    // @ts-expect-error name is not a placeholder
    expect(() => profileKey({ id: 1, name: 'x' })).toThrow(InvalidArgumentError);
    // @ts-expect-error the parameters are required
    expect(() => profileKey()).toThrow(InvalidArgumentError);
  });

  test('takes no parameters for a template without placeholders', () => {
    expectTypeOf(defineKey('stats:daily')).parameters.toEqualTypeOf<[]>();
  });

  test('accepts any parameter record for a template only known as a string', () => {
    const template: string = 'user:{id}';
    expectTypeOf(defineKey(template)).toEqualTypeOf<KeyTemplate<string>>();
    expectTypeOf(defineKey(template)).parameters.toEqualTypeOf<
      [params?: Record<string, string | number>]
    >();
  });
});
