import type { Options } from 'tsup';
export declare const tsupBase: Options;
