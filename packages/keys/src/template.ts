/**
 * The placeholder names of a key template, as a union: `'id' | 'page'` for
 * `'user:{id}:page:{page}'`, `never` when it has none.
 *
 * @example
 * type Names = TemplateParamNames<'user:{id}:page:{page}'>; // 'id' | 'page'
 */
export type TemplateParamNames<T extends string> = T extends `${string}{${infer Name}}${infer Rest}`
  ? Name | TemplateParamNames<Rest>
  : never;

/**
 * The parameter object a key template takes: one `string | number` per placeholder.
 *
 * @example
 * type Params = TemplateParams<'user:{id}:profile'>; // { id: string | number }
 */
export type TemplateParams<T extends string> = string extends T
  ? Record<string, string | number>
  : { [Name in TemplateParamNames<T>]: string | number };

/**
 * A key function made by {@link defineKey}: call it with the template's parameters to get the
 * key. A template without placeholders takes no argument.
 *
 * @example
 * const profileKey: KeyTemplate<'user:{id}:profile'> = defineKey('user:{id}:profile');
 * profileKey({ id: 123 }); // 'user:123:profile'
 */
export interface KeyTemplate<T extends string> {
  (
    ...params: string extends T
      ? [params?: TemplateParams<T>]
      : [TemplateParamNames<T>] extends [never]
        ? []
        : [params: TemplateParams<T>]
  ): string;
  /** The template the function was made from, such as `'user:{id}:profile'`. */
  readonly template: T;
}
