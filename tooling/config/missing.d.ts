export declare function reportMissing(piece: string, howToGetIt: string): void;
export declare function readMissing(runDir: string): string[];
